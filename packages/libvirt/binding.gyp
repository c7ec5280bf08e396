{
  "targets": [
    {
      "target_name": "headroom_libvirt",
      "sources": [
        "native/addon.cc",
        "native/handles.cc",
        "native/connection.cc",
        "native/domain.cc",
        "native/errors.cc",
        "native/event_loop.cc",
        "native/events.cc"
      ],
      "include_dirs": ["<!(node -p \"require('node-addon-api').include_dir\")"],
      "cflags!": ["-fno-exceptions"],
      "cflags_cc!": ["-fno-exceptions"],
      "cflags_cc": ["-std=c++17", "-Wall", "-Wextra", "-Wno-unused-parameter", "<!@(pkg-config --cflags libvirt)"],
      "libraries": ["<!@(pkg-config --libs libvirt)"],
      "defines": ["NAPI_VERSION=8", "NAPI_CPP_EXCEPTIONS"]
    }
  ]
}
