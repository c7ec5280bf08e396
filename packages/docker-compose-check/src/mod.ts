// @headroom/docker-compose-check: static checks of docker-compose.yml and the
// Dockerfiles it builds, for CI machines that have no Docker engine.
export {
  buildProblems,
  type ComposeBuild,
  type ComposeDocument,
  type ComposeProject,
  type ComposeService,
  dependencyProblems,
  dockerignoreProblems,
  ENTRY_ARG,
  entryPath,
  loadCompose,
  type ServiceBuild,
  scalingProblems,
  serviceBuilds,
  unusedDockerfiles,
  volumeProblems,
} from "./compose.ts";
export {
  type ComposeConfigOptions,
  type ComposeConfigResult,
  composeConfig,
} from "./compose_tool.ts";
export { findInContext } from "./context.ts";
export { type CopySource, type DockerfileFacts, readDockerfile, substitute } from "./dockerfile.ts";
export {
  type IgnorePattern,
  isIgnored,
  parseDockerignore,
  readDockerignore,
} from "./dockerignore.ts";
