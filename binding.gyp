{
  "targets": [
    {
      "target_name": "shmkit",
      "sources": [],
      "conditions": [
        ["OS!='win'", {
          "sources": ["native/addon.cc", "native/errors.cc", "native/segment.cc", "native/segment_files.cc", "native/lifecycle.cc", "native/tracker_process.cc", "native/owner_tag.cc", "native/futex.cc", "native/waiter_pool.cc", "native/waiter_groups.cc", "native/waiter_env.cc", "native/guard.cc", "native/guard_table.cc", "native/guard_decode.cc", "native/signal_chain.cc", "native/truncation.cc", "native/truncation_js.cc", "native/external_buffers.cc"]
        }],
        ["OS=='linux'", {
          "libraries": ["-lrt"],
          # -z nodelete: Node may dlclose an addon when the last worker
          # thread that loaded it ends, but the addon's own threads (waiter
          # pool, tracker watcher) and signal handlers (readonly guard) keep
          # running its code for the life of the process.
          "ldflags": ["-Wl,-z,nodelete"]
        }]
      ],
      "include_dirs": ["<!(node -p \"require('node-addon-api').include_dir\")"],
      "defines": ["NAPI_VERSION=8", "NAPI_DISABLE_CPP_EXCEPTIONS", "NODE_ADDON_API_DISABLE_DEPRECATED"],
      "cflags": ["-fvisibility=hidden", "-Wall", "-Wextra"],
      "cflags_cc": ["-fvisibility=hidden", "-fno-exceptions", "-std=c++17", "-Wall", "-Wextra"]
    },
    {
      "target_name": "shmkit-tracker",
      "type": "executable",
      "sources": [],
      "conditions": [
        ["OS=='win'", { "type": "none" }],
        ["OS!='win'", { "sources": ["native/tracker.c"] }],
        ["OS=='linux'", { "libraries": ["-lrt"] }]
      ],
      "cflags": ["-O2", "-Wall", "-Wextra"]
    }
  ]
}
