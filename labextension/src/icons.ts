/** The sidebar icons (our own static SVG; `currentColor`-free, themed by JupyterLab's classes). */
import { LabIcon } from '@jupyterlab/ui-components';

export const jobsIcon = new LabIcon({
  name: 'teamhub:jobs',
  svgstr:
    '<svg xmlns="http://www.w3.org/2000/svg" width="16" height="16" viewBox="0 0 24 24">' +
    '<g class="jp-icon3" fill="#616161">' +
    '<rect x="3" y="4" width="18" height="3" rx="1"/><rect x="3" y="10.5" width="13" height="3" rx="1"/>' +
    '<rect x="3" y="17" width="8" height="3" rx="1"/></g></svg>'
});

export const teamIcon = new LabIcon({
  name: 'teamhub:team',
  svgstr:
    '<svg xmlns="http://www.w3.org/2000/svg" width="16" height="16" viewBox="0 0 24 24">' +
    '<g class="jp-icon3" fill="#616161">' +
    '<circle cx="8" cy="8" r="3.5"/><circle cx="16.5" cy="9" r="3"/>' +
    '<path d="M1.5 20c0-3.6 2.9-6 6.5-6s6.5 2.4 6.5 6z"/><path d="M13.5 14.6c.9-.4 1.9-.6 3-.6 3.3 0 6 2.2 6 5.5h-7.6c-.2-1.9-.7-3.5-1.4-4.9z"/>' +
    '</g></svg>'
});
