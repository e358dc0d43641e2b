// Streaming endpoints of the node agent (exec, attach, port-forward) for the protocols kubectl speaks; the entry of this folder.
import type { IncomingMessage } from 'node:http';
import { isSpdyUpgrade } from './spdy.ts';
import { isWebSocketUpgrade } from './websocket.ts';

export {
  handleRemoteCommandUpgrade, parseRemoteCommandOptions, exitStatus, internalErrorStatus,
  SPDY_REMOTECOMMAND_PROTOCOLS,
  type ExecStreams, type RemoteCommandOptions, type StartCommand, type ExitStatus,
} from './remotecommand.ts';
export { handlePortForwardUpgrade, type DialPort, type PortForwardOptions } from './portforward.ts';
export { REMOTECOMMAND_WS_PROTOCOLS, PORTFORWARD_WS_PROTOCOLS, SPDY_TUNNEL_PROTOCOL, rejectUpgrade } from './websocket.ts';
export { HEADER_DICTIONARY, SpdySession, SpdyStream, type SpdyHeaders } from './spdy.ts';

/** isStreamingUpgrade tells whether an 'upgrade' request is one these handlers serve (WebSocket or SPDY/3.1). */
export function isStreamingUpgrade(req: IncomingMessage): boolean {
  return isWebSocketUpgrade(req) || isSpdyUpgrade(req);
}
