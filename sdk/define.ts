// defineModule: a module's entry written as one typed object. It returns its argument unchanged;
// what it adds is types: `ctx` is typed from the settings and command types the module names
// (see `warden module types`), with no annotation on each handler.
import type { CommandTypes, ModuleDefinition, SettingsShape, UntypedCommands } from "./context.js";

export function defineModule<S extends object = SettingsShape, C extends CommandTypes = UntypedCommands>(definition: ModuleDefinition<S, C>): ModuleDefinition<S, C> {
  return definition;
}
