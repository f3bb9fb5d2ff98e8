{
  "variables": {
    "ssc_libdir%": "<!(echo ${SSC_LIBDIR:-/usr/local/lib/ssc})",
    "ssc_node%": "<!(echo ${SSC_NODE:-/usr/bin/node})",
    "hardening_cflags": [
      "-Wall", "-Wextra", "-Werror", "-O2", "-D_FORTIFY_SOURCE=2",
      "-fstack-protector-strong", "-fno-strict-aliasing"
    ]
  },
  "targets": [
    {
      # The addon is a shared object: node-gyp compiles it with -fPIC, which a later -fPIE
      # would override, so -fPIE/-pie belong to the launcher only.
      "target_name": "ssc_native",
      "sources": ["native/addon/credentials.cc", "native/addon/args.cc", "native/addon/peer.cc"],
      "include_dirs": ["<!(node -p \"require('node-addon-api').include_dir\")"],
      "defines": ["NAPI_VERSION=8", "NAPI_DISABLE_CPP_EXCEPTIONS"],
      "cflags!": ["-fno-exceptions", "-O3"],
      "cflags_cc!": ["-fno-exceptions"],
      "cflags": ["<@(hardening_cflags)"],
      "cflags_cc": ["-std=c++17"],
      "ldflags": ["-Wl,-z,relro,-z,now"]
    },
    {
      "target_name": "ssc-launcher",
      "type": "executable",
      "sources": [
        "native/common/die.c",
        "native/launcher/main.c",
        "native/launcher/caller.c",
        "native/launcher/limits.c",
        "native/launcher/trust.c",
        "native/launcher/handoff.c",
        "native/launcher/drop.c",
        "native/launcher/connect.c",
        "native/launcher/front_end.c",
        "native/launcher/private_tmp.c"
      ],
      "defines": [
        "SSC_LIBDIR=\"<(ssc_libdir)\"",
        "SSC_NODE=\"<(ssc_node)\""
      ],
      # node-gyp's Release -O3 would override -O2, and -rdynamic would export symbols a
      # setuid binary has no reason to export.
      "cflags!": ["-O3"],
      "ldflags!": ["-rdynamic"],
      "cflags": ["<@(hardening_cflags)", "-fPIE", "-std=gnu11"],
      "ldflags": ["-pie", "-Wl,-z,relro,-z,now"]
    },
    {
      # Terminal mode's supervisor: not setuid; run by the front end as the caller.
      "target_name": "ssc-tab",
      "type": "executable",
      "sources": ["native/common/die.c", "native/tab/tab.c", "native/tab/oom.c"],
      "cflags!": ["-O3"],
      "ldflags!": ["-rdynamic"],
      "cflags": ["<@(hardening_cflags)", "-fPIE", "-std=gnu11"],
      "ldflags": ["-pie", "-Wl,-z,relro,-z,now"]
    },
    {
      # The program's command on systemd < 254 (src/plan/unit-file.ts): not setuid; systemd runs it as the caller.
      "target_name": "ssc-exec",
      "type": "executable",
      "sources": ["native/exec/exec.c"],
      "cflags!": ["-O3"],
      "ldflags!": ["-rdynamic"],
      "cflags": ["<@(hardening_cflags)", "-fPIE", "-std=gnu11"],
      "ldflags": ["-pie", "-Wl,-z,relro,-z,now"]
    }
  ]
}
