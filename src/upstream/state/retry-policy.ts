import type { GatewayError } from '../../domain/errors.js'
import type { RetryAllowance } from './interfaces.js'
import type { Admission } from './admission.js'

// What every path that calls Marketo shares: the call budget, the circuit and the retry rule's knobs.
export interface CallPolicyOptions {
  admission: Admission
  /** The process's one retry budget: the in-process RetryBudget by default. */
  budget: RetryAllowance
  callTimeoutMs: number
  maxAttempts: number
  backoffBaseMs: number
  backoffMaxMs: number
  quotaRetryAfterMs: number
  random?: () => number
  now?: () => number
}

export interface RetryContext {
  attempt: number
  maxAttempts: number
  // The whole call can be repeated without changing its effect (reads, UPDATE by id).
  idempotent: boolean
  // A call was already re-sent once with a fresh signature or credentials.
  resigned: boolean
  deadline: number
  // A retry is worth waiting for only if a whole call still fits before the deadline afterwards.
  minCallMs?: number
  backoffBaseMs: number
  backoffMaxMs: number
  budget: RetryAllowance
  now: () => number
  random: () => number
}

// The one retry rule for every Marketo call: how long to wait before the next attempt, or
// undefined for no retry. Retries happen only where provably safe, inside the deadline and the
// retry budget (README, "Failure semantics").
export async function retryDelay (error: GatewayError, ctx: RetryContext): Promise<number | undefined> {
  // An expired access token is routine (REST tokens last an hour): the call is re-sent once with a
  // fresh one whatever MARKETO_MAX_ATTEMPTS and the retry budget say, if it still fits.
  if (error.retry === 'reauth') return !ctx.resigned && ctx.now() + (ctx.minCallMs ?? 0) < ctx.deadline ? 0 : undefined
  if (ctx.attempt >= ctx.maxAttempts) return undefined
  let safe: boolean
  let immediate: 'next_second' | undefined
  if (error.retry === 'resign') {
    // Rejected before anything was applied: re-signed with a fresh timestamp, once.
    safe = !ctx.resigned
    immediate = 'next_second'
  } else if (error.retry === 'transient') {
    // Worth another try; after a send whose outcome is unknown (REST 500/502), only if repeating is harmless.
    safe = !error.sent || ctx.idempotent
  } else if (error.upstreamCode !== undefined) {
    // Marketo answered with a code its backend does not call transient.
    safe = false
  } else if (error.code === 'UPSTREAM_UNAVAILABLE' || error.code === 'UPSTREAM_CONCURRENCY_LIMITED') {
    safe = !error.sent || ctx.idempotent
  } else if (error.code === 'UPSTREAM_TIMEOUT' || error.code === 'UPSTREAM_CONNECTION_LOST') {
    safe = ctx.idempotent
  } else {
    safe = false
  }
  if (!safe) return undefined
  // A fresh timestamp must differ from the rejected one, and timestamps have whole seconds.
  const delay = immediate === 'next_second'
    ? 1_005 - (ctx.now() % 1_000)
    : Math.min(ctx.backoffMaxMs, ctx.backoffBaseMs * 2 ** (ctx.attempt - 1)) * (0.5 + ctx.random() / 2)
  if (ctx.now() + delay + (ctx.minCallMs ?? 0) >= ctx.deadline) return undefined
  if (!await ctx.budget.tryRetry()) return undefined
  return Math.round(delay)
}
