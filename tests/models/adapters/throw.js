'use strict';
// Broken on purpose: the library throws on the third user operation. The protocol library catches
// it and answers with an error action: the run is aborted as a finding, quoting the exception.
require('./fixture').run({ throwOnOp: 3 });
