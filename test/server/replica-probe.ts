// Preloaded (`node --import`) into a real `src/server.ts worker` process by three-replicas.test.ts. It adds a
// test-only capability to the runtime's list before server.ts builds its worker and leader, so production
// code carries no test task and no setting that could switch one on: only a process started with this
// module has it.
//
// - Task `test.replica-probe`: appends "<job id> <attempt id> <pid>" to REPLICA_PROBE_EXECUTIONS as the
//   attempt starts, then sleeps payload.sleepMs (default 0), honouring the abort signal. One line per
//   execution, written before the task can be interrupted, is the evidence for "no job ran twice".
// - Pass `test.replica-leader-probe`: every 100 ms appends "<epoch ms> <pid>" to REPLICA_PROBE_PASSES, the
//   evidence for "exactly one process runs the periodic passes at any time".
import { openSync, writeSync } from 'node:fs';
import { setTimeout as sleep } from 'node:timers/promises';
import { capabilities } from '../../src/domain/capabilities.js';
import type { Capability, CapabilityDeps } from '../../src/domain/capability.js';
import { defineTask } from '../../src/jobs/task.js';

export const PROBE_KIND = 'test.replica-probe';

function fileFromEnv(name: string): number {
  const path = process.env[name];
  if (!path) throw new Error(`replica-probe: ${name} is not set`);
  // O_APPEND: each line is one write(2) at the end of the file, whole, however many processes append.
  return openSync(path, 'a');
}

const executions = fileFromEnv('REPLICA_PROBE_EXECUTIONS');
const passes = fileFromEnv('REPLICA_PROBE_PASSES');

const probeTask = defineTask<{ sleepMs: number }, CapabilityDeps>({
  kind: PROBE_KIND,
  maxAttempts: 5,
  parsePayload: (raw) => {
    const sleepMs = (raw as { sleepMs?: unknown } | null)?.sleepMs ?? 0;
    if (typeof sleepMs !== 'number' || sleepMs < 0) throw new Error('sleepMs must be a non-negative number');
    return { sleepMs };
  },
  handler: () => async (task, payload) => {
    writeSync(executions, `${task.job.id} ${task.attemptId} ${process.pid}\n`);
    if (payload.sleepMs > 0) await sleep(payload.sleepMs, undefined, { signal: task.signal });
    return {};
  },
});

const probe: Capability = {
  name: 'test-replica-probe',
  tasks: [probeTask],
  passes: [
    {
      name: 'test.replica-leader-probe',
      everyMs: 100,
      run: async () => {
        writeSync(passes, `${Date.now()} ${process.pid}\n`);
      },
    },
  ],
};

// The list is readonly to the code that reads it; this preload is the one place that extends it.
(capabilities as Capability[]).push(probe);
