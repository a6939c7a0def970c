// Writes docs/evidence-v1.schema.json from the evidence validator (npm run evidence-schema).
import { writeFileSync } from 'node:fs';
import path from 'node:path';
import { PROJECT_ROOT } from '../src/config/load';
import { evidenceJsonSchema } from '../src/evidence/schema';

const file = path.join(PROJECT_ROOT, 'docs', 'evidence-v1.schema.json');
writeFileSync(file, `${JSON.stringify(evidenceJsonSchema(), null, 2)}\n`);
console.log(`wrote ${file}`);
