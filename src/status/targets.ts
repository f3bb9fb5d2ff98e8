/**
 * Which of the caller's apps `ssc stop NAME|UNIT…` means: a unit name picks
 * that unit; a name picks the apps of that name, and when there are several,
 * only with --all. Pure.
 */
import type { AppFigures } from './figures.js';

export class TargetError extends Error {
  constructor(
    message: string,
    /** Several apps matched a name: a usage error, the apps listed. */
    readonly ambiguous: readonly AppFigures[] = [],
  ) {
    super(message);
  }
}

const UNIT = /\.(service|scope)$/;

export function chooseTargets(apps: readonly AppFigures[], targets: readonly string[], all: boolean): AppFigures[] {
  const chosen = new Map<string, AppFigures>();
  for (const t of targets) {
    const matches = UNIT.test(t) ? apps.filter((a) => a.unit === t) : apps.filter((a) => a.name === t);
    if (matches.length === 0)
      throw new TargetError(UNIT.test(t) ? `${t} is not an app of yours that is running` : `no app of yours named ${t} is running`);
    if (matches.length > 1 && !all)
      throw new TargetError(`${matches.length} apps of yours are named ${t}: name one by its unit, or add --all`, matches);
    for (const m of matches) chosen.set(`${m.manager}:${m.unit}`, m);
  }
  return [...chosen.values()];
}
