/**
 * diffusers-compatible schedulers, built from a `scheduler_config.json` object: `_class_name` picks the class
 * unless another is asked for, as `SomeScheduler.from_config(other.config)` does in diffusers.
 */
import { SchedulerConfigError } from './config';
import { DDIMScheduler } from './ddim';
import { DDPMScheduler } from './ddpm';
import { DPMSolverMultistepScheduler } from './dpm_solver_multistep';
import { EulerAncestralDiscreteScheduler, EulerDiscreteScheduler } from './euler';
import { LCMScheduler } from './lcm';
import type { Scheduler } from './scheduler';

export { SchedulerConfigError } from './config';
export { Scheduler, SchedulerError, type PredictionType, type SchedulerOutput, type StepOptions, type TimestepSpacing } from './scheduler';
export { DDIMScheduler, DDPMScheduler, DPMSolverMultistepScheduler, EulerAncestralDiscreteScheduler, EulerDiscreteScheduler, LCMScheduler };

const CLASSES = {
  DDPMScheduler,
  DDIMScheduler,
  EulerDiscreteScheduler,
  EulerAncestralDiscreteScheduler,
  DPMSolverMultistepScheduler,
  LCMScheduler,
} as const;

/** The diffusers scheduler classes synthe implements. */
export type SchedulerClassName = keyof typeof CLASSES;
export const SCHEDULER_CLASSES = Object.keys(CLASSES) as SchedulerClassName[];

/** Short names (the CLI's `--scheduler`) for the classes. */
export const SCHEDULER_ALIASES: Readonly<Record<string, SchedulerClassName>> = {
  ddpm: 'DDPMScheduler',
  ddim: 'DDIMScheduler',
  euler: 'EulerDiscreteScheduler',
  'euler-a': 'EulerAncestralDiscreteScheduler',
  'dpm++2m': 'DPMSolverMultistepScheduler',
  lcm: 'LCMScheduler',
};

/**
 * A scheduler from a parsed `scheduler_config.json`: of class `className` when given, else of the config's
 * `_class_name`. Keys the class does not have are ignored; values it does not implement are refused by name.
 */
export function createScheduler(config: unknown, className?: string): Scheduler {
  const named = config && typeof config === 'object' ? (config as Record<string, unknown>)._class_name : undefined;
  const name = className ?? named;
  if (typeof name !== 'string') throw new SchedulerConfigError(`the scheduler config has no _class_name; name the class (one of ${SCHEDULER_CLASSES.join(', ')})`);
  if (!(name in CLASSES)) throw new SchedulerConfigError(`scheduler class '${name}' is not supported (supported: ${SCHEDULER_CLASSES.join(', ')})`);
  return CLASSES[name as SchedulerClassName].fromConfig(config);
}
