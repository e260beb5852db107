/**
 * The submit flow: show the form; on Submit, send the spec; if the server (or the form)
 * finds problems, show the form again with what the user typed and each message beside its
 * field; repeat until the job is created or the user cancels. The dialog itself is given
 * (`show`), so the flow is tested without JupyterLab's Dialog.
 */
import { ApiError } from '../api/client';
import type { TeamhubClient } from '../api/client';
import type { Capabilities, Environment, Job } from '../api/types';
import { SubmitForm } from './submit';
import { buildSpec, problemsByField } from './submitvalues';
import type { Problems, SubmitValues } from './submitvalues';

/** Shows `form` modally; resolves the values on Submit, null on Cancel. */
export type ShowForm = (form: SubmitForm) => Promise<SubmitValues | null>;

export async function submitFlow(
  client: TeamhubClient,
  caps: Capabilities | null,
  env: Environment | null,
  initial: SubmitValues,
  show: ShowForm
): Promise<Job | null> {
  let values = initial;
  let problems: Problems = {};
  for (;;) {
    const form = new SubmitForm(values, caps, env, problems);
    const result = await show(form);
    if (!form.isDisposed) {
      form.dispose();
    }
    if (result === null) {
      return null;
    }
    values = result;
    const built = buildSpec(values);
    if (Object.keys(built.problems).length) {
      problems = built.problems;
      continue;
    }
    try {
      return await client.submitJob(built.spec);
    } catch (e) {
      if (e instanceof ApiError) {
        problems = e.fieldErrors.length ? problemsByField(e.fieldErrors) : { '': [e.message] };
        if (e.fieldErrors.length && !Object.keys(problems).some(k => k !== '')) {
          problems[''] = [e.message, ...(problems[''] ?? [])];
        }
      } else {
        problems = { '': [e instanceof Error ? e.message : String(e)] };
      }
    }
  }
}
