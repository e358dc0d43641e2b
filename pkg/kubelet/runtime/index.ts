// runtime: the kubelet's container runtime layer — the ContainerRuntime interface and its Docker implementation.
export * from './types.ts';
export { DockerRuntime, DEFAULT_PAUSE_IMAGE } from './docker.ts';
export { DEFAULT_SOCKET, parseDockerHost } from './convert.ts';
export type { DockerRuntimeOptions } from './docker.ts';
export { busyboxRootfs, pauseRootfs, tar, BUSYBOX_APPLETS } from './rootfs.ts';
export type { TarEntry } from './rootfs.ts';
