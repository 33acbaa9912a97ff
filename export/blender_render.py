"""Runs inside Blender: keyframes shape keys (or vertex positions) and renders PNG frames.

Started by `export.blender_backend` as

    blender -b [scene.blend] --factory-startup --python-exit-code 1 -P blender_render.py -- JOB.json

It imports nothing from this repository but `target_names.py` beside it (standard library
only, loaded by path) and needs no numpy (Debian's Blender runs on the system Python, which
may lack it): the job folder holds a JSON description and raw little-endian float32/int32
arrays, read with the standard `array` module.

Modes (job["mode"]):
  * "bundled": build the bundled head (vertices, faces, colours, one shape key per ARKit
    name) as object "face", keyframe the coefficients, render with Workbench + MatCap;
  * "blend": use object job["object"] of the opened .blend, whose shape keys carry ARKit
    names (in any convention of target_names.py, or through job["name_map"]), keyframe those,
    render with the scene's camera if any;
  * "vertices": build the user's template mesh and set its vertex positions every frame.

Talks back on stdout, one line each: `VOICEEMO_FRAME <i>` after frame i is written,
`VOICEEMO_WARNING <text>`, and `VOICEEMO_ERROR <text>` before exiting with code 3 on bad
input (missing object, no matching shape keys).
"""

import array
import importlib.util
import json
import math
import os
import sys

import bpy
from mathutils import Vector

ERROR_EXIT = 3


def _load_target_names():
    # By path, not by putting export/ on sys.path, where its modules could shadow Blender's.
    path = os.path.join(os.path.dirname(os.path.abspath(__file__)), "target_names.py")
    spec = importlib.util.spec_from_file_location("voiceemo_target_names", path)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


target_names = _load_target_names()


def say(kind, text):
    print(f"VOICEEMO_{kind} {text}", flush=True)


def fail(text):
    say("ERROR", text)
    sys.exit(ERROR_EXIT)


def read_floats(path):
    values = array.array("f")
    with open(path, "rb") as f:
        values.frombytes(f.read())
    if sys.byteorder != "little":
        values.byteswap()
    return values


def read_ints(path):
    values = array.array("i")
    with open(path, "rb") as f:
        values.frombytes(f.read())
    if sys.byteorder != "little":
        values.byteswap()
    return values


def clear_scene():
    for obj in list(bpy.data.objects):
        bpy.data.objects.remove(obj, do_unlink=True)


def build_mesh(job, folder):
    """Creates object 'face' from vertices.f32 / faces.i32 (already in Blender's Z-up axes)."""
    coords = read_floats(os.path.join(folder, "vertices.f32"))
    indices = read_ints(os.path.join(folder, "faces.i32"))
    vertices = [tuple(coords[i : i + 3]) for i in range(0, len(coords), 3)]
    faces = [tuple(indices[i : i + 3]) for i in range(0, len(indices), 3)]
    mesh = bpy.data.meshes.new(job.get("object", "face"))
    mesh.from_pydata(vertices, [], faces)
    mesh.update()
    mesh.polygons.foreach_set("use_smooth", [True] * len(mesh.polygons))
    colors_path = os.path.join(folder, "colors.f32")
    if os.path.exists(colors_path):
        attribute = mesh.color_attributes.new("Col", "BYTE_COLOR", "POINT")
        attribute.data.foreach_set("color", read_floats(colors_path))
    obj = bpy.data.objects.new(job.get("object", "face"), mesh)
    bpy.context.scene.collection.objects.link(obj)
    return obj, coords


def add_shape_keys(obj, basis, names, folder):
    """One shape key per name from deltas.f32 ([S, V, 3] offsets added to the basis)."""
    deltas = read_floats(os.path.join(folder, "deltas.f32"))
    size = len(basis)
    obj.shape_key_add(name="Basis", from_mix=False)
    for s, name in enumerate(names):
        key = obj.shape_key_add(name=name, from_mix=False)
        offset = deltas[s * size : (s + 1) * size]
        key.data.foreach_set("co", array.array("f", (b + d for b, d in zip(basis, offset))))


def match_shape_keys(obj, arkit_names, name_map=None):
    """ARKit name -> shape key block, matched in the common naming conventions (target_names.py)
    or through `name_map`; reports the ARKit names it lacks and the keys nothing drives."""
    if obj.type != "MESH" or obj.data.shape_keys is None:
        fail(f"object {obj.name!r} has no shape keys; it needs keys named after the 52 ARKit blendshapes")
    blocks = list(obj.data.shape_keys.key_blocks)[1:]  # the first is the basis (reference) key
    names = [block.name for block in blocks]
    found = {arkit: blocks[i] for arkit, i in target_names.match_targets(arkit_names, names, name_map).items()}
    if not found:
        fail(
            f"object {obj.name!r} has no shape key named after an ARKit blendshape in a known convention "
            "(e.g. jawOpen, jaw_open, eyeBlink_L); map the names with --name-map FILE.json"
        )
    missing = [name for name in arkit_names if name not in found]
    if missing:
        say("WARNING", f"object {obj.name!r} lacks {len(missing)} ARKit shape keys: {' '.join(missing)}")
    undriven = target_names.unmatched_targets(names, {k: names.index(b.name) for k, b in found.items()})
    if undriven:
        say("WARNING", f"{len(undriven)} shape keys of {obj.name!r} match no ARKit name: {' '.join(undriven)}")
    return found


def keyframe_coefficients(found, arkit_names, coefficients, num_frames):
    """Keys every matched shape key on every frame (frame i + 1 holds row i)."""
    width = len(arkit_names)
    # Linear keys (the glTF export's interpolation too); set as the default rather than by editing
    # F-curves afterwards, whose API differs between Blender versions.
    bpy.context.preferences.edit.keyframe_new_interpolation_type = "LINEAR"
    for name, block in found.items():
        column = arkit_names.index(name)
        block.slider_min, block.slider_max = -1.0, 2.0  # do not clamp slightly out-of-range weights
        for i in range(num_frames):
            block.value = coefficients[i * width + column]
            block.keyframe_insert("value", frame=i + 1)


def add_camera(scene, location, angle):
    """A camera at `location` looking along +y (at a face that looks along -y), vertical fov `angle`."""
    data = bpy.data.cameras.new("camera")
    data.sensor_fit = "VERTICAL"
    data.angle = angle
    data.clip_start, data.clip_end = 0.01, 100.0
    camera = bpy.data.objects.new("camera", data)
    scene.collection.objects.link(camera)
    camera.location = location
    camera.rotation_euler = (math.pi / 2, 0.0, 0.0)
    scene.camera = camera


def frame_object(scene, obj, width, height):
    """For a .blend without a camera: fit the object's bounding box seen from the front (-y)."""
    low, high = world_box(obj)
    centre = [(a + b) / 2 for a, b in zip(low, high)]
    angle = math.radians(24.0)
    half_height = 0.56 * max(high[2] - low[2], (high[0] - low[0]) * height / width)
    distance = half_height / math.tan(angle / 2) + (centre[1] - low[1])
    add_camera(scene, (centre[0], centre[1] - distance, centre[2]), angle)


def world_box(obj):
    corners = [obj.matrix_world @ Vector(c) for c in obj.bound_box]
    return [min(c[k] for c in corners) for k in range(3)], [max(c[k] for c in corners) for k in range(3)]


def setup_render(scene, job, vertex_colors):
    scene.render.engine = "BLENDER_WORKBENCH"
    shading = scene.display.shading
    if vertex_colors:
        # Neutral grey MatCap tinted by the bundled head's vertex colours (skin, lips, eyes).
        shading.light, shading.studio_light, shading.color_type = "MATCAP", "basic_1.exr", "VERTEX"
    elif not (job["mode"] == "blend" and shading.light == "MATCAP"):
        # A user's .blend keeps its own MatCap; otherwise use Blender's skin MatCap, like the release.
        shading.light = "MATCAP"
        shading.studio_light = "skin.exr"
    scene.display.render_aa = "8"
    if scene.world is None:
        scene.world = bpy.data.worlds.new("world")
    scene.world.color = (0.022, 0.024, 0.032)
    scene.view_settings.view_transform = "Standard"
    width, height = job["size"]
    scene.render.resolution_x, scene.render.resolution_y = width, height
    scene.render.resolution_percentage = 100
    scene.render.pixel_aspect_x = scene.render.pixel_aspect_y = 1.0
    scene.render.fps, scene.render.fps_base = job["fps"], 1.0
    scene.render.film_transparent = False
    settings = scene.render.image_settings
    settings.file_format, settings.color_mode, settings.color_depth = "PNG", "RGB", "8"
    scene.frame_start, scene.frame_end = 1, job["frames"]


def main():
    job_path = sys.argv[sys.argv.index("--") + 1]
    with open(job_path) as f:
        job = json.load(f)
    folder = os.path.dirname(job_path)
    scene = bpy.context.scene
    num_frames = job["frames"]
    mode = job["mode"]
    vertex_frames = None
    if mode == "blend":
        obj = bpy.data.objects.get(job["object"])
        if obj is None:
            meshes = sorted(o.name for o in bpy.data.objects if o.type == "MESH")
            fail(f"the .blend has no object named {job['object']!r} (mesh objects: {', '.join(meshes) or 'none'})")
        coefficients = read_floats(os.path.join(folder, "coefficients.f32"))
        found = match_shape_keys(obj, job["names"], job.get("name_map"))
        keyframe_coefficients(found, job["names"], coefficients, num_frames)
        if scene.camera is None:
            frame_object(scene, obj, *job["size"])
    else:
        clear_scene()
        obj, basis = build_mesh(job, folder)
        if mode == "bundled":
            add_shape_keys(obj, basis, job["names"], folder)
            coefficients = read_floats(os.path.join(folder, "coefficients.f32"))
            keyframe_coefficients(match_shape_keys(obj, job["names"]), job["names"], coefficients, num_frames)
        else:
            vertex_frames = read_floats(os.path.join(folder, "frames.f32"))
        add_camera(scene, job["camera"]["location"], job["camera"]["angle"])
    setup_render(scene, job, vertex_colors=mode != "blend" and os.path.exists(os.path.join(folder, "colors.f32")))
    if job.get("save_blend"):
        bpy.ops.wm.save_as_mainfile(filepath=job["save_blend"], copy=True)
    size = len(obj.data.vertices) * 3
    for i in range(num_frames):
        scene.frame_set(i + 1)
        if vertex_frames is not None:
            obj.data.vertices.foreach_set("co", vertex_frames[i * size : (i + 1) * size])
            obj.data.update()
        scene.render.filepath = os.path.join(job["out_dir"], f"frame_{i:06d}.png")
        bpy.ops.render.render(write_still=True)
        say("FRAME", i)


main()
