import { constants } from 'node:os';

/** 'ENOENT' for 2, and so on. */
export function errnoName(errno: number): string {
  for (const [name, num] of Object.entries(constants.errno)) if (num === errno) return name;
  return `errno ${errno}`;
}
