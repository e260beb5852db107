/**
 * teamhub in JupyterLab: the "Jobs" and "Team" sidebars, job detail/log views in the main
 * area, and the submit dialog (from the sidebar, the file browser's menu on a .py file,
 * and a notebook toolbar button that submits the active cell). Everything talks to the
 * server extension's REST API at `{base_url}/teamhub/api/` through `TeamhubClient`.
 */
import { ILayoutRestorer } from '@jupyterlab/application';
import type { JupyterFrontEnd, JupyterFrontEndPlugin } from '@jupyterlab/application';
import { Dialog, ToolbarButton, WidgetTracker, showDialog, showErrorMessage } from '@jupyterlab/apputils';
import { URLExt } from '@jupyterlab/coreutils';
import { IFileBrowserFactory } from '@jupyterlab/filebrowser';
import { INotebookTracker } from '@jupyterlab/notebook';
import type { NotebookPanel } from '@jupyterlab/notebook';
import { ServerConnection } from '@jupyterlab/services';
import type { DocumentRegistry } from '@jupyterlab/docregistry';
import { DisposableDelegate } from '@lumino/disposable';
import type { IDisposable } from '@lumino/disposable';

import { TeamhubClient } from './api/client';
import type { Fetcher } from './api/client';
import type { Capabilities, Environment } from './api/types';
import { jobsIcon, teamIcon } from './icons';
import { JobsStore } from './stores/jobs';
import { JobDetail } from './widgets/detail';
import { JobsSidebar } from './widgets/sidebar';
import { cellValues, defaultValues } from './widgets/submitvalues';
import type { SubmitValues } from './widgets/submitvalues';
import { submitFlow } from './widgets/submitflow';
import { TeamPanel } from './widgets/team';

export const API_PATH = 'teamhub/api';

export const CommandIDs = {
  openJob: 'teamhub:open-job',
  submit: 'teamhub:submit-job',
  submitFile: 'teamhub:submit-file',
  submitCell: 'teamhub:submit-cell',
  showJobs: 'teamhub:show-jobs',
  showTeam: 'teamhub:show-team',
  refresh: 'teamhub:refresh-jobs'
} as const;

/**
 * A `Fetcher` for the API under the server's base URL (token and XSRF handled). JupyterLab's
 * defaults apply, its `?<timestamp>` cache-buster included (the API ignores that one).
 */
export function serverFetcher(settings: ServerConnection.ISettings = ServerConnection.makeSettings()): Fetcher {
  const root = URLExt.join(settings.baseUrl, API_PATH);
  return (path, init) => ServerConnection.makeRequest(`${root}/${path}`, init, settings);
}

function confirm(title: string, body: string, action: string): Promise<boolean> {
  return showDialog({
    title,
    body,
    buttons: [Dialog.cancelButton({ label: 'Keep' }), Dialog.warnButton({ label: action })]
  }).then(r => r.button.accept);
}

function showError(title: string, error: unknown): void {
  void showErrorMessage(title, error instanceof Error ? error.message : String(error));
}

const plugin: JupyterFrontEndPlugin<void> = {
  id: 'teamhub-jupyterlab:plugin',
  description: 'Jobs sidebar, job logs, submit dialog and Team panel for teamhub.',
  autoStart: true,
  optional: [ILayoutRestorer, IFileBrowserFactory, INotebookTracker],
  activate: (
    app: JupyterFrontEnd,
    restorer: ILayoutRestorer | null,
    browsers: IFileBrowserFactory | null,
    notebooks: INotebookTracker | null
  ) => {
    const client = new TeamhubClient(serverFetcher(app.serviceManager.serverSettings));
    const store = new JobsStore(client);
    const tracker = new WidgetTracker<JobDetail>({ namespace: 'teamhub-job' });

    const openJob = (name: string): JobDetail => {
      const existing = tracker.find(w => w.name === name);
      if (existing) {
        app.shell.activateById(existing.id);
        return existing;
      }
      const detail = new JobDetail({
        client,
        name,
        cancel: async n => {
          if (await confirm('Cancel job', `Stop every pod of ${n}? Its logs are archived first.`, 'Cancel job')) {
            await store.cancel(n).catch(e => showError(`Could not cancel ${n}`, e));
          }
        }
      });
      detail.title.icon = jobsIcon;
      void tracker.add(detail);
      app.shell.add(detail, 'main');
      app.shell.activateById(detail.id);
      return detail;
    };

    let caps: Promise<Capabilities | null> | null = null;
    /** Opens the submit dialog: the defaults, with `prefill` over them. */
    const submit = async (prefill: Partial<SubmitValues> = {}): Promise<void> => {
      caps ??= client.capabilities().catch(() => {
        caps = null;
        return null;
      });
      const [capabilities, env] = await Promise.all([
        caps,
        client.environment().catch((): Environment | null => null)
      ]);
      const initial = { ...defaultValues(capabilities), ...prefill };
      const job = await submitFlow(client, capabilities, env, initial, async form => {
        const result = await showDialog<SubmitValues>({
          title: 'Submit a job',
          body: form,
          buttons: [Dialog.cancelButton(), Dialog.okButton({ label: 'Submit' })],
          focusNodeSelector: 'select, input'
        });
        return result.button.accept ? result.value : null;
      });
      if (job) {
        void store.refresh();
        openJob(job.name);
      }
    };

    const sidebar = new JobsSidebar({
      store,
      openJob: name => void openJob(name),
      submit: () => void submit(),
      confirm,
      showError
    });
    sidebar.title.icon = jobsIcon;
    app.shell.add(sidebar, 'left', { rank: 600 });

    const team = new TeamPanel(client);
    team.title.icon = teamIcon;
    app.shell.add(team, 'left', { rank: 610 });

    if (restorer) {
      restorer.add(sidebar, sidebar.id);
      restorer.add(team, team.id);
      void restorer.restore(tracker, {
        command: CommandIDs.openJob,
        args: w => ({ name: w.name }),
        name: w => w.name
      });
    }

    // A background browser tab polls nothing.
    document.addEventListener('visibilitychange', () => {
      store.poller.setVisible(!document.hidden && sidebar.isVisible);
    });

    app.commands.addCommand(CommandIDs.openJob, {
      label: args => (typeof args['name'] === 'string' ? `Open Job ${args['name']}` : 'Open Job'),
      execute: args => {
        const name = args['name'];
        if (typeof name === 'string' && name) {
          return openJob(name);
        }
        return undefined;
      }
    });
    app.commands.addCommand(CommandIDs.submit, {
      label: 'Submit a Job…',
      caption: 'Submit a distributed job that runs in this notebook’s environment',
      icon: jobsIcon,
      execute: args => {
        const path = args['path'];
        return submit(typeof path === 'string' && path ? { programKind: 'script', program: path } : {});
      }
    });
    app.commands.addCommand(CommandIDs.showJobs, {
      label: 'Show Jobs',
      execute: () => app.shell.activateById(sidebar.id)
    });
    app.commands.addCommand(CommandIDs.showTeam, {
      label: 'Show Team',
      execute: () => app.shell.activateById(team.id)
    });
    app.commands.addCommand(CommandIDs.refresh, {
      label: 'Refresh Jobs',
      execute: () => store.refresh()
    });

    if (browsers) {
      app.commands.addCommand(CommandIDs.submitFile, {
        label: 'Submit as a Job…',
        icon: jobsIcon,
        execute: () => {
          const first = browsers.tracker.currentWidget?.selectedItems().next();
          const path = first && !first.done ? first.value.path : '';
          return submit(path ? { programKind: 'script', program: path, backend: 'indexed' } : {});
        }
      });
      app.contextMenu.addItem({
        command: CommandIDs.submitFile,
        selector: '.jp-DirListing-item[data-file-type="python"]',
        rank: 20
      });
    }

    const submitCell = (panel: NotebookPanel | null | undefined): Promise<void> =>
      submit(panel ? activeCellValues(panel) : {});
    app.commands.addCommand(CommandIDs.submitCell, {
      label: 'Submit Cell as a Job…',
      caption: 'Submit the active cell’s code as a distributed job',
      icon: jobsIcon,
      isEnabled: () => !!notebooks?.currentWidget,
      execute: () => submitCell(notebooks?.currentWidget)
    });
    app.docRegistry.addWidgetExtension('Notebook', new NotebookButton(submitCell));
  }
};

/** The form values of a notebook's active cell (its code), if it has one. */
function activeCellValues(panel: NotebookPanel): Partial<SubmitValues> {
  const cell = panel.content.activeCell;
  return cell ? cellValues(cell.model.type, cell.model.sharedModel.getSource()) : {};
}

/** The notebook toolbar's "Job" button: submits the active cell's code as a job. */
class NotebookButton implements DocumentRegistry.IWidgetExtension<NotebookPanel, DocumentRegistry.IModel> {
  constructor(private readonly submitCell: (panel: NotebookPanel) => Promise<void>) {}

  createNew(panel: NotebookPanel): IDisposable {
    const button = new ToolbarButton({
      icon: jobsIcon,
      tooltip: 'Submit the active cell as a job (teamhub)',
      label: 'Job',
      onClick: () => void this.submitCell(panel)
    });
    panel.toolbar.insertItem(10, 'teamhub-submit', button);
    return new DisposableDelegate(() => button.dispose());
  }
}

export default plugin;
