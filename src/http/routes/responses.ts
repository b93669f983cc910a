import { ProblemDetails, ref } from '../schemas/common.js'

// Error responses shared by the route files (OpenAPI), so one wording serves every route.
const problem = ref(ProblemDetails)

export function problemResponse (description: string): typeof problem & { description: string } {
  return { ...problem, description }
}

export const commonProblems = {
  401: problemResponse('Missing or invalid API key (Authorization: Bearer); see WWW-Authenticate'),
  429: problemResponse('The API key\'s rate limit, or Marketo\'s rate limit or daily quota, reached; see Retry-After'),
  503: problemResponse('Marketo unreachable, its concurrency limit reached, or the circuit is open; see Retry-After')
}
