// preflight: the clear sentences `kubeling up` says when something it needs is missing — Docker, the API port, a
// writable data dir — from the error codes the checks met. Pure: the checks themselves live in cmd/up.ts.

/** dockerProblem explains why Docker cannot be used: `installed` says whether a dockerd binary is on this host. */
export function dockerProblem(code: string | undefined, socket: string, installed: boolean): string {
  if (!installed && (code === 'ENOENT' || code === undefined)) {
    return `Docker is not installed (no dockerd on this host): install the Docker engine (apt-get install -y docker.io, or run scripts/up.sh, which does), then retry`;
  }
  switch (code) {
    case 'ENOENT':
      return `Docker is not running: no socket at ${socket} — start it (systemctl start docker) or pass --docker-host`;
    case 'ECONNREFUSED':
      return `Docker is not running: ${socket} refuses connections — start it (systemctl start docker) or pass --docker-host`;
    case 'EACCES':
    case 'EPERM':
      return `Docker is unreachable: permission denied on ${socket} — run as root (sudo) or join the docker group`;
    case 'ETIMEDOUT':
      return `Docker is unreachable: ${socket} did not answer in time — is dockerd hung? (systemctl restart docker)`;
    default:
      return `Docker is unreachable at ${socket}${code ? ` (${code})` : ''} — check that dockerd runs (docker info)`;
  }
}

/** portProblem explains why the API server's port cannot be listened on. */
export function portProblem(code: string | undefined, address: string, port: number): string {
  switch (code) {
    case 'EADDRINUSE':
      return `port ${port} on ${address} is taken (another kubeling server? see \`kubeling status\` or \`ss -ltnp 'sport = :${port}'\`): stop it, or pass --https-listen-port`;
    case 'EACCES':
      return `port ${port} on ${address} needs root: run with sudo or pass --https-listen-port above 1023`;
    case 'EADDRNOTAVAIL':
      return `${address} is not an address of this host: pass a --bind-address this host has`;
    default:
      return `cannot listen on ${address}:${port}${code ? ` (${code})` : ''}`;
  }
}

/** dataDirProblem explains why the data dir cannot hold the cluster's state. */
export function dataDirProblem(code: string | undefined, dir: string): string {
  switch (code) {
    case 'EACCES':
    case 'EPERM':
      return `data dir ${dir} is not writable (permission denied): run as root (sudo) or pass --data-dir (KUBELING_DATA_DIR) with a directory you own`;
    case 'EROFS':
      return `data dir ${dir} is on a read-only file system: pass --data-dir (KUBELING_DATA_DIR) elsewhere`;
    case 'ENOSPC':
      return `data dir ${dir} has no space left: free some or pass --data-dir elsewhere`;
    case 'ENOTDIR':
    case 'EEXIST':
      return `data dir ${dir} is not a directory: pass --data-dir (KUBELING_DATA_DIR) with a directory`;
    default:
      return `data dir ${dir} is not writable${code ? ` (${code})` : ''}`;
  }
}
