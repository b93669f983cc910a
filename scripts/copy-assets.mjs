// Copies the non-TypeScript assets (bundled WSDL, simulator seed) next to the compiled code.
import { cpSync, readdirSync, statSync, mkdirSync } from 'node:fs'
import { join, dirname, relative } from 'node:path'

const exts = ['.wsdl', '.json', '.xml']
function walk (dir) {
  for (const name of readdirSync(dir)) {
    const path = join(dir, name)
    if (statSync(path).isDirectory()) walk(path)
    else if (exts.some((e) => name.endsWith(e))) {
      const target = join('dist', relative('src', path))
      mkdirSync(dirname(target), { recursive: true })
      cpSync(path, target)
    }
  }
}
walk('src')
