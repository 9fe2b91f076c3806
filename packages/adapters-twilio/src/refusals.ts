/**
 * The log of refused requests (403 signature, 405 method, 413 body too large). A wrong
 * `publicBaseUrl` makes every signature fail, and without a trace of the URL the signature was
 * checked against it cannot be told from an attack; with one line per refusal, a flood of forged
 * requests would fill the log. So: at most one line per kind of refusal per interval, saying how
 * many of that kind were left unwritten since the last line. A line names the method, the path
 * and the URL the signature was checked against (without the query string) — never the
 * signature, the body or a parameter value.
 */
import type { Clock, Logger } from '@callflow/flow-core';

/** Why a request was refused. */
export type RefusalKind = 'signature' | 'method' | 'bodyTooLarge';

const STATUS: Record<RefusalKind, number> = { signature: 403, method: 405, bodyTooLarge: 413 };
const MESSAGE: Record<RefusalKind, string> = {
  signature: 'webhook: refused a request whose X-Twilio-Signature does not match (check publicBaseUrl and the auth token)',
  method: 'webhook: refused a request that is not a POST',
  bodyTooLarge: 'webhook: refused a request whose body is over maxBodyBytes',
};
/** Longest path written; longer ones are cut (a path is caller-controlled). */
const MAX_PATH = 200;

/** Writes refused requests to a logger, rate-limited per kind. */
export class RefusalLog {
  private readonly last = new Map<RefusalKind, number>();
  private readonly suppressed = new Map<RefusalKind, number>();

  constructor(
    private readonly logger: Logger | undefined,
    private readonly clock: Clock,
    /** At most one line per kind in this many milliseconds. */
    private readonly intervalMs: number,
  ) {}

  /**
   * A request was refused. `path` is the path as received (its query string is not written);
   * `checkedOrigin` the public origin the signature is computed with (`signature` refusals).
   */
  refused(kind: RefusalKind, method: string, path: string, checkedOrigin?: string): void {
    if (!this.logger || this.logger.enabled?.('warn') === false) return;
    const now = this.clock.now();
    const last = this.last.get(kind);
    if (last !== undefined && now - last < this.intervalMs) {
      this.suppressed.set(kind, (this.suppressed.get(kind) ?? 0) + 1);
      return;
    }
    const suppressed = this.suppressed.get(kind) ?? 0;
    this.last.set(kind, now);
    this.suppressed.delete(kind);
    const at = path.indexOf('?');
    const pathname = clip(at >= 0 ? path.slice(0, at) : path);
    const fields: Record<string, unknown> = { refused: kind, status: STATUS[kind], method: clip(method, 16), path: pathname };
    if (checkedOrigin !== undefined) fields.signedUrl = checkedOrigin + pathname;
    if (at >= 0) fields.query = true;
    if (suppressed > 0) fields.suppressed = suppressed;
    this.logger.write({ level: 'warn', msg: MESSAGE[kind], fields });
  }
}

/** Printable ASCII only, at most `max` characters. */
function clip(text: string, max = MAX_PATH): string {
  const printable = text.replace(/[^\x21-\x7e]/g, '?');
  return printable.length > max ? `${printable.slice(0, max)}…` : printable;
}
