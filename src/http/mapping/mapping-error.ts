/**
 * A request that passed the schema but breaks a rule spanning several fields.
 * `path` is a JSON Pointer into the request body, so the route can answer 400 naming it.
 */
export class MappingError extends Error {
  readonly path: string

  constructor (path: string, message: string) {
    super(`${path} ${message}`)
    this.name = 'MappingError'
    this.path = path
  }
}
