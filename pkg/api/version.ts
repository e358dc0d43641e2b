// version: the Kubernetes version kubeling reports (/version, node info); kubectl's dispatcher picks its binary from
// major/minor, and gitVersion must parse as semver.
export const VERSION = {
  major: '1',
  minor: '32',
  gitVersion: 'v1.32.0+kubeling',
  gitCommit: '0000000000000000000000000000000000000000',
  gitTreeState: 'clean',
  buildDate: '2026-11-01T00:00:00Z',
  goVersion: 'go1.23.4',
  compiler: 'gc',
  platform: 'linux/amd64',
};
