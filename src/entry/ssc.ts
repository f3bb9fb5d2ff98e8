// The front end's entry: unprivileged (the launcher dropped to the caller before exec).
import { main } from '../cli/main.js';

main().then(
  (code) => {
    process.exitCode = code;
    // Flush and leave even if a handle is still open.
    process.stdout.write('', () => process.exit(code));
  },
  () => process.exit(125),
);
