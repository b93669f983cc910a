import { GatewayError } from '../../domain/errors.js'
import type { QuotaGuard } from './interfaces.js'

const OPEN = Promise.resolve()

/** Marketo's daily quota as this process knows it: after 20015 (SOAP) or 607 (REST), calls fail fast. */
export class QuotaState implements QuotaGuard {
  private until = 0
  private code: number | undefined

  constructor (protected readonly now: () => number = Date.now) {}

  get blocked (): boolean { return this.until > this.now() }
  /** Until when calls fail fast (ms since the epoch), 0 when they do not. */
  get blockedUntil (): number { return this.blocked ? this.until : 0 }

  /** Answers from this process's knowledge: a settled promise, no allocation while calls may go. */
  check (): Promise<void> {
    return this.blocked ? Promise.reject(this.error()) : OPEN
  }

  block (code: number, ms: number): void {
    this.until = this.now() + ms
    this.code = code
  }

  /** A call was admitted (the shared quota counts them). */
  recordCall (): void {}

  error (): GatewayError {
    return new GatewayError('UPSTREAM_QUOTA_EXCEEDED', `Marketo daily API quota exceeded (${this.code ?? 'no code'})`, { upstreamCode: this.code, retryAfterMs: Math.max(0, this.until - this.now()) })
  }
}
