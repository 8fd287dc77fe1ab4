#include "external_buffers.h"

namespace shmkit {

const char* ExternalBufferErrorCode(napi_status status) {
  return status == napi_no_external_buffers_allowed ? "ERR_SHM_EXTERNAL_BUFFERS" : nullptr;
}

}  // namespace shmkit
