import type { Capability } from '../capability.js';
import { abandonedReportsPass } from './abandoned.js';
import { healthPruningPass, healthSchedulingPass } from './passes.js';
import { reportTask } from './report-task.js';

export const health: Capability = {
  name: 'health',
  tasks: [reportTask],
  passes: [healthSchedulingPass, healthPruningPass, abandonedReportsPass],
};
