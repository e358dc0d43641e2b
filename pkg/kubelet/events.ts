// events: the kubelet's event recorder now lives in pkg/client/events.ts; this re-export keeps the kubelet's imports short.
export { EventRecorder, podTarget, type EventTarget } from '../client/events.ts';
