'use strict';
// Broken on purpose: an uncaught exception kills the process on the third user operation. The
// simulator must report the exit, the last event and the stack trace from stderr, not hang.
require('./fixture').run({ crashOnOp: 3 });
