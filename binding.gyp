{
  "variables": {
    "ssc_libdir%": "<!(echo ${SSC_LIBDIR:-/usr/local/lib/ssc})",
    "ssc_node%": "<!(echo ${SSC_NODE:-/usr/bin/node})",
    "hardening_cflags": [
      "-Wall", "-Wextra", "-Werror", "-O2", "-D_FORTIFY_SOURCE=2",
      "-fstack-protector-strong", "-fPIE", "-fno-strict-aliasing"
    ]
  },
  "targets": [
    {
      "target_name": "ssc_native",
      "sources": ["native/addon/credentials.cc"],
      "include_dirs": ["<!(node -p \"require('node-addon-api').include_dir\")"],
      "defines": ["NAPI_VERSION=8", "NAPI_DISABLE_CPP_EXCEPTIONS"],
      "cflags!": ["-fno-exceptions"],
      "cflags_cc!": ["-fno-exceptions"],
      "cflags": ["<@(hardening_cflags)"],
      "cflags_cc": ["<@(hardening_cflags)", "-std=c++17"],
      "ldflags": ["-Wl,-z,relro,-z,now"]
    },
    {
      "target_name": "ssc-launcher",
      "type": "executable",
      "sources": ["native/launcher/launcher.c"],
      "defines": [
        "SSC_LIBDIR=\"<(ssc_libdir)\"",
        "SSC_NODE=\"<(ssc_node)\""
      ],
      "cflags": ["<@(hardening_cflags)", "-std=gnu11"],
      "cflags_c": ["-std=gnu11"],
      "ldflags": ["-pie", "-Wl,-z,relro,-z,now"]
    }
  ]
}
