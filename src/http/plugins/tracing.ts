import { AsyncLocalStorage } from 'node:async_hooks'
import type { IncomingMessage } from 'node:http'
import fp from 'fastify-plugin'
import type { FastifyBaseLogger, FastifyInstance, FastifyPluginAsync, RouteHandlerMethod } from 'fastify'
import { ROOT_CONTEXT, SpanKind, SpanStatusCode, TraceFlags, defaultTextMapGetter, trace, type Span, type SpanContext } from '@opentelemetry/api'
import { ExportResultCode, W3CTraceContextPropagator, type ExportResult } from '@opentelemetry/core'
import { defaultResource, resourceFromAttributes } from '@opentelemetry/resources'
import {
  AlwaysOffSampler, AlwaysOnSampler, BasicTracerProvider, BatchSpanProcessor, ParentBasedSampler, TraceIdRatioBasedSampler,
  type ReadableSpan, type Sampler, type SpanExporter
} from '@opentelemetry/sdk-trace-base'
import { OTLPTraceExporter } from '@opentelemetry/exporter-trace-otlp-http'
import {
  ATTR_ERROR_TYPE, ATTR_HTTP_REQUEST_METHOD, ATTR_HTTP_RESPONSE_STATUS_CODE, ATTR_HTTP_ROUTE, ATTR_NETWORK_PROTOCOL_VERSION,
  ATTR_SERVICE_NAME, ATTR_URL_PATH, ATTR_URL_SCHEME
} from '@opentelemetry/semantic-conventions'
import type { TracingConfig } from '../../config.js'
import type { CallSpan, CallTracer } from '../../upstream/executor.js'

// OpenTelemetry traces (issue #17). This module is imported by buildApp only when an OTLP endpoint
// is configured: without one, no OpenTelemetry code is loaded and no hook, logger factory or
// tracer is installed, so an untraced request costs exactly what it did before.
//
// Nothing here touches the OpenTelemetry globals (no provider, context manager or propagator is
// registered): each app has its own provider and its own AsyncLocalStorage for the active span,
// so several apps in one process (the tests) cannot see each other's spans.
//
// What a span carries: method, route template, path without the query string, status, and for a
// Marketo call its operation, object count, attempt, outcome and Marketo code. Never a header
// value, a body, a credential or a query string.

declare module 'fastify' {
  interface FastifyInstance {
    /** Present only when tracing is configured. */
    tracing?: Tracing
  }
  interface FastifyRequest {
    /** The request's server span (tracing configured only). */
    traceSpan: Span | null
  }
}

export interface Tracing {
  /** Handed to the CallExecutor: one client span per Marketo call attempt. */
  readonly calls: CallTracer
  /** Fastify's childLoggerFactory: starts the request's span, adds trace_id / span_id to its logger. */
  readonly childLoggerFactory: (logger: FastifyBaseLogger, bindings: Record<string, unknown>, opts: object, rawReq: IncomingMessage) => FastifyBaseLogger
  /** The fastify plugin: route names, status, span end, the span active in route handlers. */
  readonly plugin: FastifyPluginAsync
  /** Exports every ended span now. */
  flush (): Promise<void>
  /** Flushes and stops the exporter (the plugin's onClose). */
  shutdown (): Promise<void>
}

export interface TracingOptions {
  /** Where export failures are reported (one warn line each; never the exporter's headers). */
  log?: { warn (obj: object, msg: string): void }
  /** For tests: replaces the OTLP/HTTP exporter. */
  exporter?: SpanExporter
}

export function buildSampler (s: TracingConfig['sampler']): Sampler {
  switch (s.name) {
    case 'always_on': return new AlwaysOnSampler()
    case 'always_off': return new AlwaysOffSampler()
    case 'traceidratio': return new TraceIdRatioBasedSampler(s.ratio)
    case 'parentbased_always_off': return new ParentBasedSampler({ root: new AlwaysOffSampler() })
    case 'parentbased_traceidratio': return new ParentBasedSampler({ root: new TraceIdRatioBasedSampler(s.ratio) })
    default: return new ParentBasedSampler({ root: new AlwaysOnSampler() })
  }
}

export function formatTraceparent (c: SpanContext): string {
  return `00-${c.traceId}-${c.spanId}-${(c.traceFlags & TraceFlags.SAMPLED) === TraceFlags.SAMPLED ? '01' : '00'}`
}

// Export failures would otherwise go to the silent OpenTelemetry diag logger.
class ReportingExporter implements SpanExporter {
  log: TracingOptions['log']
  constructor (private readonly inner: SpanExporter, log: TracingOptions['log']) { this.log = log }

  export (spans: ReadableSpan[], done: (result: ExportResult) => void): void {
    this.inner.export(spans, (result) => {
      if (result.code !== ExportResultCode.SUCCESS) this.log?.warn({ spans: spans.length, err: { message: result.error?.message } }, 'could not export trace spans')
      done(result)
    })
  }

  shutdown (): Promise<void> { return this.inner.shutdown() }
  forceFlush (): Promise<void> { return this.inner.forceFlush?.() ?? Promise.resolve() }
}

export function startTracing (config: TracingConfig, opts: TracingOptions = {}): Tracing {
  const exporter = new ReportingExporter(opts.exporter ?? new OTLPTraceExporter({ url: config.url }), opts.log)
  const provider = new BasicTracerProvider({
    sampler: buildSampler(config.sampler),
    resource: defaultResource().merge(resourceFromAttributes({ ...config.resourceAttributes, [ATTR_SERVICE_NAME]: config.serviceName })),
    spanProcessors: [new BatchSpanProcessor(exporter)]
  })
  const tracer = provider.getTracer('marketo-mobject-gateway')
  const propagator = new W3CTraceContextPropagator()
  // The span whose work is running: a request's server span inside its route handler.
  const active = new AsyncLocalStorage<Span>()
  // From the logger factory (before the request object exists) to the onRequest hook.
  const started = new WeakMap<IncomingMessage, Span>()

  const childLoggerFactory: Tracing['childLoggerFactory'] = (logger, bindings, loggerOpts, rawReq) => {
    // The caller's traceparent (and tracestate), if valid, is the parent; otherwise a new trace.
    const parent = propagator.extract(ROOT_CONTEXT, rawReq.headers, defaultTextMapGetter)
    const q = rawReq.url?.indexOf('?') ?? -1
    const span = tracer.startSpan(rawReq.method ?? 'HTTP', {
      kind: SpanKind.SERVER,
      attributes: {
        [ATTR_HTTP_REQUEST_METHOD]: rawReq.method,
        [ATTR_URL_PATH]: q < 0 ? rawReq.url : rawReq.url?.slice(0, q),
        [ATTR_URL_SCHEME]: 'encrypted' in rawReq.socket ? 'https' : 'http',
        [ATTR_NETWORK_PROTOCOL_VERSION]: rawReq.httpVersion
      }
    }, parent)
    started.set(rawReq, span)
    const { traceId, spanId } = span.spanContext()
    return logger.child({ ...bindings, trace_id: traceId, span_id: spanId }, loggerOpts)
  }

  const plugin = fp(async function tracingPlugin (app: FastifyInstance) {
    exporter.log ??= app.log
    const target = new URL(config.url)
    app.log.info({ traces: target.origin + target.pathname, sampler: config.sampler.name, serviceName: config.serviceName }, 'OpenTelemetry tracing on')
    app.decorateRequest('traceSpan', null)
    app.addHook('onRequest', async (request, reply) => {
      const span = started.get(request.raw)
      if (span === undefined) return
      request.traceSpan = span
      // The connection closed before the answer was sent (the caller went away): onResponse will
      // not run. (onRequestAbort does not fire once the request body has been read.)
      reply.raw.once('close', () => {
        if (request.traceSpan === null || reply.raw.writableFinished) return
        request.traceSpan = null
        span.setAttribute(ATTR_ERROR_TYPE, 'aborted')
        span.setStatus({ code: SpanStatusCode.ERROR, message: 'connection closed before the answer was sent' })
        span.end()
      })
      const route = request.routeOptions.url
      if (route !== undefined) {
        span.updateName(`${request.method} ${route}`)
        span.setAttribute(ATTR_HTTP_ROUTE, route)
      }
    })
    app.addHook('onResponse', async (request, reply) => {
      const span = request.traceSpan
      if (span === null) return
      request.traceSpan = null
      span.setAttribute(ATTR_HTTP_RESPONSE_STATUS_CODE, reply.statusCode)
      if (reply.statusCode >= 500) {
        span.setAttribute(ATTR_ERROR_TYPE, String(reply.statusCode))
        span.setStatus({ code: SpanStatusCode.ERROR })
      }
      span.end()
    })
    // Every route registered after this plugin runs its handler with the request's span active,
    // so the Marketo calls it makes (directly, or through a coalesced batch it opens) are children.
    app.addHook('onRoute', (route) => {
      const handler = route.handler as (this: FastifyInstance, ...args: Parameters<RouteHandlerMethod>) => unknown
      route.handler = function tracedHandler (this: FastifyInstance, request, reply) {
        const span = request.traceSpan
        return span === null ? handler.call(this, request, reply) : active.run(span, () => handler.call(this, request, reply))
      } as RouteHandlerMethod
    })
    // An unreachable receiver must not fail the close (the exporter has retried until its timeout).
    app.addHook('onClose', async () => {
      await provider.shutdown().catch((err: unknown) => { app.log.warn({ err: { message: err instanceof Error ? err.message : String(err) } }, 'could not export the last trace spans') })
    })
  }, { name: 'tracing' })

  const calls: CallTracer = {
    start (call, attempt): CallSpan {
      const parent = active.getStore()
      const span = tracer.startSpan(`marketo ${call.operation}`, {
        kind: SpanKind.CLIENT,
        attributes: { 'marketo.operation': call.operation, 'marketo.objects': call.objects, 'marketo.attempt': attempt }
      }, parent === undefined ? ROOT_CONTEXT : trace.setSpan(ROOT_CONTEXT, parent))
      return {
        traceparent: formatTraceparent(span.spanContext()),
        end (outcome, upstreamCode) {
          span.setAttribute('marketo.outcome', outcome)
          if (upstreamCode !== undefined) span.setAttribute('marketo.code', upstreamCode)
          if (outcome !== 'ok') {
            span.setAttribute(ATTR_ERROR_TYPE, outcome)
            span.setStatus({ code: SpanStatusCode.ERROR })
          }
          span.end()
        }
      }
    }
  }

  return {
    calls,
    childLoggerFactory,
    plugin,
    flush: () => provider.forceFlush(),
    shutdown: () => provider.shutdown()
  }
}
