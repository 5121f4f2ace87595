'use strict';
// The automerge-repo adapter (../automerge-repo/adapter.js) run on the packages pinned here: the
// library's 2.6 prerelease. Same arguments, same behaviour; only the library differs.
require('../automerge-repo/adapter.js');
