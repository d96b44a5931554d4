/** `ash-server`: runs the server in the foreground, configured by ASH_* environment variables. */
import { runServer, startupErrorMessage } from './run.js';

runServer().catch((err: unknown) => {
  process.stderr.write(`ash-server: ${startupErrorMessage(err)}\n`);
  process.exit(1);
});
