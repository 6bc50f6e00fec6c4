// Worker-scope types that lib.dom lacks. One program cannot load lib.dom and
// lib.webworker together (they declare the same globals differently), and
// jsconfig.json checks the E2EE worker with the page code, so the few
// worker-only types it uses are declared here, as the spec defines them
// (W3C WebRTC Encoded Transform §5, HTML §10.2).

interface RTCRtpScriptTransformer extends EventTarget {
  readonly readable: ReadableStream;
  readonly writable: WritableStream;
  readonly options: any;
  generateKeyFrame(rid?: string): Promise<number>;
  sendKeyFrameRequest(): Promise<void>;
}

interface RTCTransformEvent extends Event {
  readonly transformer: RTCRtpScriptTransformer;
}

interface DedicatedWorkerGlobalScope {
  readonly name: string;
  onmessage: ((this: DedicatedWorkerGlobalScope, ev: MessageEvent) => any) | null;
  onrtctransform: ((this: DedicatedWorkerGlobalScope, ev: RTCTransformEvent) => any) | null;
  postMessage(message: any, transfer?: Transferable[]): void;
  close(): void;
}
