import { Command } from 'commander';
import { loadConfig, type GlobalOptions } from '../context';
import { EXIT } from '../exit-codes';
import type { Printer } from '../output';

/** `sentinel config check`: validates ops/invariants.yaml and lists its environments. */
export function configCommand(printer: Printer): Command {
  const config = new Command('config').description('inspect ops/invariants.yaml');
  config
    .command('check')
    .description('validate the configuration and summarise each environment')
    .action((_options: unknown, command: Command) => {
      const invariants = loadConfig(command.optsWithGlobals<GlobalOptions>());
      printer.info(`${invariants.file}: valid (sha256 ${invariants.sha256.slice(0, 16)})`);
      for (const [name, env] of Object.entries(invariants.environments)) {
        printer.info(
          `  ${name} (${env.kind}, executor ${env.executor.kind}): ${env.awsRegion}, ${env.targets.map((t) => `${t.name}=${t.instanceTypes.join('|')}`).join(', ')}`,
        );
      }
      printer.json({
        file: invariants.file,
        sha256: invariants.sha256,
        environments: invariants.environments,
      });
      process.exitCode = EXIT.PASSED;
    });
  return config;
}
