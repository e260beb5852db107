import { describe, expect, it } from 'vitest';

import { TeamhubClient } from '../src/api/client';
import { LogModel } from '../src/logs/model';
import { LogStream } from '../src/logs/stream';
import { fakeServer, json, textStream } from './helpers';

const tick = () => new Promise(r => setTimeout(r, 0));

describe('LogStream', () => {
  it('fills the model and says when the log ended', async () => {
    const s = textStream();
    const { fetcher } = fakeServer(() => s.response);
    const model = new LogModel();
    const stream = new LogStream(new TeamhubClient(fetcher), 'train', model);
    const states: string[] = [];
    stream.stateChanged.connect((_, st) => states.push(st));
    const done = stream.open({ follow: true });
    s.push('[worker-0] a\n[worker-1] b\n');
    s.end();
    await done;
    expect(model.toText()).toBe('[worker-0] a\n[worker-1] b\n— the job has finished: end of log —\n');
    expect(states).toEqual(['streaming', 'ended']);
  });

  it('re-opening aborts the old request and starts a clean model', async () => {
    const first = textStream();
    const second = textStream();
    let n = 0;
    const { fetcher, calls } = fakeServer(() => (n++ === 0 ? first.response : second.response));
    const model = new LogModel();
    const stream = new LogStream(new TeamhubClient(fetcher), 'train', model);
    const a = stream.open({ follow: true });
    first.push('[worker-0] old\n');
    await tick();
    const b = stream.open({ follow: true, replica: 'worker-1', prefix: false, tail: 10 });
    expect(calls[0]!.signal!.aborted).toBe(true);
    first.push('[worker-0] late\n'); // a late chunk of the old stream is not shown
    first.end();
    second.push('only worker-1\n');
    second.end();
    await Promise.all([a, b]);
    expect(model.toText()).toBe('only worker-1\n— the job has finished: end of log —\n');
    expect(calls[1]!.path).toBe('jobs/train/logs?replica=worker-1&follow=true&prefix=false&tail=10');
  });

  it('shows an API error as a notice line', async () => {
    const { fetcher } = fakeServer(() => json({ message: "job 'x' has no replica 'worker-9'", reason: 'ReplicaNotFound' }, 404));
    const model = new LogModel();
    const stream = new LogStream(new TeamhubClient(fetcher), 'x', model);
    await stream.open({ replica: 'worker-9' });
    expect(stream.state).toBe('error');
    expect(stream.error).toBe("job 'x' has no replica 'worker-9'");
    expect(model.get(0)).toMatchObject({ notice: true, text: "— log stream failed: job 'x' has no replica 'worker-9' —" });
  });
});
