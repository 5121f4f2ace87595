'use strict';
// Broken on purpose: the library loops forever on the third user operation, so the process never
// answers. The simulator must give up after SYNCSTORM_EXTERNAL_TIMEOUT_MS with a clear error.
require('./fixture').run({ hangOnOp: 3 });
