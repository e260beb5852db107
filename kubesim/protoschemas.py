"""Field numbers of the Kubernetes protobuf messages kubesim decodes (``generated.proto`` of
k8s.io/api and k8s.io/apimachinery), for the kinds kubectl's typed clients send.

Each field is ``"jsonName:type"``, ``[]`` marking a repeated one. Types: ``str``/``int``/
``bool`` (Go values: the zero value means unset, as ``omitempty`` drops it from JSON),
``ostr``/``oint``/``obool`` (Go pointers: a zero value is meaningful), ``bytes``, ``map``
(string to string), ``bmap`` (string to bytes, base64 in JSON), ``qmap`` (string to
Quantity), ``time``, ``intstr``, ``quantity``, or a message name.
"""

from __future__ import annotations

_META = {
    1: "name:str",
    2: "generateName:str",
    3: "namespace:str",
    4: "selfLink:str",
    5: "uid:str",
    6: "resourceVersion:str",
    7: "generation:int",
    8: "creationTimestamp:time",
    9: "deletionTimestamp:time",
    10: "deletionGracePeriodSeconds:oint",
    11: "labels:map",
    12: "annotations:map",
    13: "ownerReferences:OwnerReference[]",
    14: "finalizers:str[]",
}

SCHEMAS: dict[str, dict[int, str]] = {
    # runtime and meta/v1
    "Unknown": {
        1: "typeMeta:TypeMeta",
        2: "raw:bytes",
        3: "contentEncoding:str",
        4: "contentType:str",
    },
    "TypeMeta": {1: "apiVersion:str", 2: "kind:str"},
    "ObjectMeta": _META,
    "OwnerReference": {
        1: "kind:str",
        3: "name:str",
        4: "uid:str",
        5: "apiVersion:str",
        6: "controller:obool",
        7: "blockOwnerDeletion:obool",
    },
    "LabelSelector": {1: "matchLabels:map", 2: "matchExpressions:LabelSelectorRequirement[]"},
    "LabelSelectorRequirement": {1: "key:str", 2: "operator:str", 3: "values:str[]"},
    # authorization/v1, authentication/v1 (kubectl auth can-i / whoami, create token)
    "SelfSubjectAccessReview": {
        1: "metadata:ObjectMeta",
        2: "spec:SelfSubjectAccessReviewSpec",
        3: "status:SubjectAccessReviewStatus",
    },
    "SelfSubjectAccessReviewSpec": {
        1: "resourceAttributes:ResourceAttributes",
        2: "nonResourceAttributes:NonResourceAttributes",
    },
    "SubjectAccessReviewStatus": {
        1: "allowed:bool",
        2: "reason:str",
        3: "evaluationError:str",
        4: "denied:bool",
    },
    "ResourceAttributes": {
        1: "namespace:str",
        2: "verb:str",
        3: "group:str",
        4: "version:str",
        5: "resource:str",
        6: "subresource:str",
        7: "name:str",
        8: "fieldSelector:SelectorAttributes",
        9: "labelSelector:SelectorAttributes",
    },
    "SelectorAttributes": {1: "rawSelector:str", 2: "requirements:Requirement[]"},
    "Requirement": {1: "key:str", 2: "operator:str", 3: "values:str[]"},
    "NonResourceAttributes": {1: "path:str", 2: "verb:str"},
    "TokenRequest": {
        1: "metadata:ObjectMeta",
        2: "spec:TokenRequestSpec",
        3: "status:TokenRequestStatus",
    },
    "TokenRequestSpec": {
        1: "audiences:str[]",
        3: "boundObjectRef:BoundObjectReference",
        4: "expirationSeconds:oint",
    },
    "TokenRequestStatus": {1: "token:str", 2: "expirationTimestamp:time"},
    "BoundObjectReference": {1: "kind:str", 2: "apiVersion:str", 3: "name:str", 4: "uid:str"},
    "TokenReview": {
        1: "metadata:ObjectMeta",
        2: "spec:TokenReviewSpec",
        3: "status:TokenReviewStatus",
    },
    "TokenReviewSpec": {1: "token:str", 2: "audiences:str[]"},
    "TokenReviewStatus": {
        1: "authenticated:bool",
        2: "user:UserInfo",
        3: "error:str",
        4: "audiences:str[]",
    },
    "UserInfo": {1: "username:str", 2: "uid:str", 3: "groups:str[]"},
    "SelfSubjectReview": {1: "metadata:ObjectMeta", 2: "status:SelfSubjectReviewStatus"},
    "SelfSubjectReviewStatus": {1: "userInfo:UserInfo"},
    # core/v1 (kubectl create namespace|serviceaccount|configmap|secret|quota|service)
    "Namespace": {1: "metadata:ObjectMeta", 2: "spec:NamespaceSpec", 3: "status:NamespaceStatus"},
    "NamespaceSpec": {1: "finalizers:str[]"},
    "NamespaceStatus": {1: "phase:str"},
    "ServiceAccount": {
        1: "metadata:ObjectMeta",
        2: "secrets:ObjectReference[]",
        3: "imagePullSecrets:LocalObjectReference[]",
        4: "automountServiceAccountToken:obool",
    },
    "ObjectReference": {
        1: "kind:str",
        2: "namespace:str",
        3: "name:str",
        4: "uid:str",
        5: "apiVersion:str",
        6: "resourceVersion:str",
        7: "fieldPath:str",
    },
    "LocalObjectReference": {1: "name:str"},
    "ConfigMap": {
        1: "metadata:ObjectMeta",
        2: "data:map",
        3: "binaryData:bmap",
        4: "immutable:obool",
    },
    "Secret": {
        1: "metadata:ObjectMeta",
        2: "data:bmap",
        3: "type:str",
        4: "stringData:map",
        5: "immutable:obool",
    },
    "ResourceQuota": {
        1: "metadata:ObjectMeta",
        2: "spec:ResourceQuotaSpec",
        3: "status:ResourceQuotaStatus",
    },
    "ResourceQuotaSpec": {1: "hard:qmap", 2: "scopes:str[]", 3: "scopeSelector:ScopeSelector"},
    "ScopeSelector": {1: "matchExpressions:ScopedResourceSelectorRequirement[]"},
    "ScopedResourceSelectorRequirement": {1: "scopeName:str", 2: "operator:str", 3: "values:str[]"},
    "ResourceQuotaStatus": {1: "hard:qmap", 2: "used:qmap"},
    "Service": {1: "metadata:ObjectMeta", 2: "spec:ServiceSpec", 3: "status:ServiceStatus"},
    "ServiceSpec": {
        1: "ports:ServicePort[]",
        2: "selector:map",
        3: "clusterIP:str",
        4: "type:str",
        5: "externalIPs:str[]",
        7: "sessionAffinity:str",
        8: "loadBalancerIP:str",
        9: "loadBalancerSourceRanges:str[]",
        10: "externalName:str",
        11: "externalTrafficPolicy:str",
        12: "healthCheckNodePort:int",
        13: "publishNotReadyAddresses:bool",
        18: "clusterIPs:str[]",
        19: "ipFamilies:str[]",
        20: "ipFamilyPolicy:ostr",
        21: "allocateLoadBalancerNodePorts:obool",
        22: "loadBalancerClass:ostr",
        23: "internalTrafficPolicy:ostr",
        24: "trafficDistribution:ostr",
    },
    "ServicePort": {
        1: "name:str",
        2: "protocol:str",
        3: "port:int",
        4: "targetPort:intstr",
        5: "nodePort:int",
        6: "appProtocol:ostr",
    },
    "ServiceStatus": {1: "loadBalancer:LoadBalancerStatus"},
    "LoadBalancerStatus": {},
    # rbac/v1 (kubectl create role|clusterrole|rolebinding|clusterrolebinding)
    "Role": {1: "metadata:ObjectMeta", 2: "rules:PolicyRule[]"},
    "ClusterRole": {
        1: "metadata:ObjectMeta",
        2: "rules:PolicyRule[]",
        3: "aggregationRule:AggregationRule",
    },
    "AggregationRule": {1: "clusterRoleSelectors:LabelSelector[]"},
    "PolicyRule": {
        1: "verbs:str[]",
        2: "apiGroups:str[]",
        3: "resources:str[]",
        4: "resourceNames:str[]",
        5: "nonResourceURLs:str[]",
    },
    "RoleBinding": {1: "metadata:ObjectMeta", 2: "subjects:Subject[]", 3: "roleRef:RoleRef"},
    "ClusterRoleBinding": {1: "metadata:ObjectMeta", 2: "subjects:Subject[]", 3: "roleRef:RoleRef"},
    "Subject": {1: "kind:str", 2: "apiGroup:str", 3: "name:str", 4: "namespace:str"},
    "RoleRef": {1: "apiGroup:str", 2: "kind:str", 3: "name:str"},
    # batch/v1 (kubectl create job): the pod template as far as kubectl fills it in
    "Job": {1: "metadata:ObjectMeta", 2: "spec:JobSpec", 3: "status:JobStatus"},
    "JobSpec": {
        1: "parallelism:oint",
        2: "completions:oint",
        3: "activeDeadlineSeconds:oint",
        4: "selector:LabelSelector",
        5: "manualSelector:obool",
        6: "template:PodTemplateSpec",
        7: "backoffLimit:oint",
        8: "ttlSecondsAfterFinished:oint",
        9: "completionMode:ostr",
        10: "suspend:obool",
    },
    "JobStatus": {4: "active:int", 5: "succeeded:int", 6: "failed:int", 7: "completedIndexes:str"},
    "PodTemplateSpec": {1: "metadata:ObjectMeta", 2: "spec:PodSpec"},
    "PodSpec": {
        2: "containers:Container[]",
        3: "restartPolicy:str",
        4: "terminationGracePeriodSeconds:oint",
        5: "activeDeadlineSeconds:oint",
        6: "dnsPolicy:str",
        7: "nodeSelector:map",
        8: "serviceAccountName:str",
        9: "serviceAccount:str",
        10: "nodeName:str",
        11: "hostNetwork:bool",
        12: "hostPID:bool",
        13: "hostIPC:bool",
        16: "hostname:str",
        17: "subdomain:str",
        19: "schedulerName:str",
        21: "automountServiceAccountToken:obool",
        24: "priorityClassName:str",
    },
    "Container": {
        1: "name:str",
        2: "image:str",
        3: "command:str[]",
        4: "args:str[]",
        5: "workingDir:str",
        8: "resources:ResourceRequirements",
        13: "terminationMessagePath:str",
        14: "imagePullPolicy:str",
        16: "stdin:bool",
        17: "stdinOnce:bool",
        18: "tty:bool",
        20: "terminationMessagePolicy:str",
    },
    "ResourceRequirements": {1: "limits:qmap", 2: "requests:qmap"},
}

#: Top-level kinds kubesim accepts as protobuf, by apiVersion.
KINDS = {
    ("authorization.k8s.io/v1", "SelfSubjectAccessReview"),
    ("authentication.k8s.io/v1", "TokenRequest"),
    ("authentication.k8s.io/v1", "TokenReview"),
    ("authentication.k8s.io/v1", "SelfSubjectReview"),
    *(
        ("v1", k)
        for k in ("Namespace", "ServiceAccount", "ConfigMap", "Secret", "ResourceQuota", "Service")
    ),
    *(
        ("rbac.authorization.k8s.io/v1", k)
        for k in ("Role", "ClusterRole", "RoleBinding", "ClusterRoleBinding")
    ),
    ("batch/v1", "Job"),
}
