// Copies the non-TypeScript assets next to the compiled code: the gateway's bundled WSDL
// (src/ -> dist/src/) and the simulator's own WSDL and seed (simulator/ -> dist/simulator/).
import { cpSync, readdirSync, statSync, mkdirSync } from 'node:fs'
import { join, dirname } from 'node:path'

const exts = ['.wsdl', '.json', '.xml']
function walk (dir) {
  for (const name of readdirSync(dir)) {
    const path = join(dir, name)
    if (statSync(path).isDirectory()) walk(path)
    else if (exts.some((e) => name.endsWith(e)) && !/^tsconfig.*\.json$/.test(name)) {
      const target = join('dist', path)
      mkdirSync(dirname(target), { recursive: true })
      cpSync(path, target)
    }
  }
}
walk('src')
walk('simulator')
