// Values that both --help and the commands' work use, kept in a module of their
// own: building the help must not load the work's NATS and protobuf code.

/** The network name that stands for the pod network (masquerade) instead of an attachment. */
export const POD_NETWORK = "pod";

/** As many events as kubectl describe shows. */
export const DESCRIBE_EVENTS = 10;
