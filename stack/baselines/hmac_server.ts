/**
 * The server process of the ssl-server baseline device: the attestation
 * kernel's commands in software, served to one device over a Unix socket
 * (protocol in server_protocol.ts). The keys loaded through it stay in this
 * process.
 *
 * Started by SslServerKernel as `node --import tsx hmac_server.ts SOCKET`.
 * Writes "listening" on stdout once the socket accepts connections, serves
 * the first connection only, and exits when that connection closes, when
 * stdin closes (the parent died), on SIGINT, SIGTERM or SIGHUP (Ctrl-C
 * reaches the whole process group), or when no device connects within
 * CONNECT_TIMEOUT_MS. On every exit it removes its socket and the socket's
 * folder, if empty. Logs its start and end on stderr, never a key.
 */

import { rmdirSync, rmSync } from 'node:fs';
import { createServer, type Socket } from 'node:net';
import { dirname } from 'node:path';
import { createInterface } from 'node:readline';

import { SoftwareAttestationCore } from './software_core.ts';
import { decodeFrame, encodeReply, type ServerReply } from './server_protocol.ts';

const CONNECT_TIMEOUT_MS = 30_000;

function log(line: string): void {
  process.stderr.write(`hmac-server ${process.pid}: ${line}\n`);
}

/** Execute one frame and build its reply. An invalid frame or request gets an error reply, and the server keeps serving. */
function serve(core: SoftwareAttestationCore, line: string): ServerReply {
  let id = -1;
  try {
    const frame = decodeFrame(line);
    id = frame.id;
    if (frame.kind === 'reset') {
      core.reset();
      return { id, results: [] };
    }
    return { id, results: frame.requests.map((req) => core.step(req)) };
  } catch (err) {
    return { id, error: (err as Error).message };
  }
}

function main(): void {
  const socketPath = process.argv[2];
  if (socketPath === undefined) {
    log('missing argument: the Unix socket path to listen on');
    process.exit(2);
  }

  // Registered before listening, so no exit path leaves the socket behind.
  process.on('exit', () => removeSocket(socketPath));
  const core = new SoftwareAttestationCore();
  let device: Socket | undefined;
  const stop = (reason: string): void => {
    log(`stopping: ${reason}`);
    core.reset();
    server.close();
    process.exit(0);
  };

  const server = createServer((socket) => {
    if (device !== undefined) {
      log('rejected a second connection; this server serves one device');
      socket.destroy();
      return;
    }
    device = socket;
    clearTimeout(connectTimer);
    const lines = createInterface({ input: socket, crlfDelay: Infinity });
    lines.on('line', (line) => socket.write(encodeReply(serve(core, line)) + '\n'));
    socket.on('close', () => stop('the device closed the connection'));
    socket.on('error', (err) => log(`socket error: ${err.message}`));
  });

  const connectTimer = setTimeout(() => stop(`no device connected within ${CONNECT_TIMEOUT_MS} ms`), CONNECT_TIMEOUT_MS);
  process.stdin.on('end', () => stop('stdin closed, so the parent process is gone'));
  process.stdin.resume();
  for (const signal of ['SIGINT', 'SIGTERM', 'SIGHUP'] as const) process.once(signal, () => stop(`received ${signal}`));

  server.on('error', (err) => {
    log(`cannot listen on ${socketPath}: ${err.message}`);
    process.exit(1);
  });
  server.listen(socketPath, () => {
    log(`listening on ${socketPath}`);
    process.stdout.write('listening\n');
  });
}

/**
 * Remove the socket file and then its folder, which SslServerKernel made for
 * this server alone. rmdir removes only an empty folder, so a socket path in
 * a shared folder leaves that folder alone.
 */
function removeSocket(socketPath: string): void {
  rmSync(socketPath, { force: true });
  try {
    rmdirSync(dirname(socketPath));
  } catch {
    // Not empty, or the parent removed it first.
  }
}

main();
