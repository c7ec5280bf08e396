export type { ProcessSpec, SupervisorOptions } from "./supervisor.ts";
export { Supervisor } from "./supervisor.ts";
