/** See header-check.cjs. */
export interface HeaderApi {
  parseHeader(bytes: Uint8Array, segmentSize: number): unknown;
  ShmError: abstract new (...args: never[]) => Error;
  rowRegions(plan: never): { at: number; per: number; what: string }[];
  regionBytes(r: { per: number }, n: number): number;
}
export declare function checkHeaderInput(data: Uint8Array, api: HeaderApi): 'ok' | 'bad';
