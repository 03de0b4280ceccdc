/*
 * pageOut(start: bigint, length: bigint): number
 *
 * madvise(start, length, MADV_PAGEOUT): asks the kernel to reclaim the pages
 * of a range of this process's memory now. For a read-only file mapping (a
 * shared library's code and constants) the clean pages are dropped and read
 * again from the file when next used. Returns 0, or the errno of a refusal
 * (EINVAL on kernels before 5.4, which lack MADV_PAGEOUT).
 *
 * Used by src/model/library-pages.ts; nothing else in tsad is native code of
 * its own. Built by scripts/build-page-out.mjs (node-gyp) at install.
 */
#include <errno.h>
#include <stdint.h>
#include <sys/mman.h>
#include <node_api.h>

#ifndef MADV_PAGEOUT
#define MADV_PAGEOUT 21
#endif

static napi_value page_out(napi_env env, napi_callback_info info) {
  size_t argc = 2;
  napi_value argv[2];
  uint64_t start = 0;
  uint64_t length = 0;
  bool lossless = false;
  if (napi_get_cb_info(env, info, &argc, argv, NULL, NULL) != napi_ok || argc < 2 ||
      napi_get_value_bigint_uint64(env, argv[0], &start, &lossless) != napi_ok ||
      napi_get_value_bigint_uint64(env, argv[1], &length, &lossless) != napi_ok) {
    napi_throw_type_error(env, NULL, "pageOut(start: bigint, length: bigint)");
    return NULL;
  }
  int result = madvise((void *)(uintptr_t)start, (size_t)length, MADV_PAGEOUT) == 0 ? 0 : errno;
  napi_value out;
  napi_create_int32(env, result, &out);
  return out;
}

NAPI_MODULE_INIT() {
  napi_value fn;
  napi_create_function(env, "pageOut", NAPI_AUTO_LENGTH, page_out, NULL, &fn);
  napi_set_named_property(env, exports, "pageOut", fn);
  return exports;
}
