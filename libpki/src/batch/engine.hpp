// The batch engine's entry for renewal batches (libpki/src/renewal starts
// them; run_batch/resume_batch of pki/batch.hpp are the others). Internal.
#pragma once

#include <vector>

#include "pki/batch.hpp"
#include "pki/store.hpp"

namespace pki::batch {

// A new renewal batch: `req.source` is BatchSource::renewal, `req.ca` the
// CA that issues (a current issuer), `req.input` the CSR input or empty;
// `items` the positions, recorded with the batch in one transaction.
BatchResult run_renewal_batch(Home& home, const BatchRequest& req,
                              std::vector<RenewalItemRecord> items, const BatchSecrets& secrets,
                              const Clock& clock, const ProgressFn& progress);

}  // namespace pki::batch
