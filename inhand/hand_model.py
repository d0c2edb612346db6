# Copyright 2026 The inhand Authors
#
# Licensed under the Apache License, Version 2.0 (the "License");
# you may not use this file except in compliance with the License.
# You may obtain a copy of the License at
#
#     http://www.apache.org/licenses/LICENSE-2.0
#
# Unless required by applicable law or agreed to in writing, software
# distributed under the License is distributed on an "AS IS" BASIS,
# WITHOUT WARRANTIES OR CONDITIONS OF ANY KIND, either express or implied.
# See the License for the specific language governing permissions and
# limitations under the License.

"""
The hand model: hand profile + scene (+ camera rig) -> one MuJoCo model, for every package.

The simulator steps it, the policy runner and goal manager run forward kinematics on it, the
hand description turns it into a URDF and TF, and the vision node reads the camera rig's
config here. It lives in `inhand` (not in sim_bridge) so that what runs on the robot never
imports the simulator package.

build_model() composes the hand MJCF of a hand profile (as installed with its Python package)
through mujoco.MjSpec: it removes what the profile lists (the gym scene's block, goal and
floor), places the hand's mount body, and adds the ArUco cube, a floor, lights and the cameras
of a rig. The world frame is documented in config/sim/scene.yaml and docs/simulation.md.
"""
from dataclasses import dataclass, field
import math
import pathlib

from inhand.config import ConfigError, Fields, load_yaml
from inhand.cube_markers import CubeMarkers, DEFAULT_CONFIG as DEFAULT_CUBE
from inhand.transforms import (matrix_to_quat, MJCAM_TO_OPTICAL_WXYZ, quat_multiply,
                               quat_normalize, wxyz_from_xyzw)
import mujoco
import numpy as np

DEFAULT_SCENE = 'sim/scene.yaml'
DEFAULT_RIG = 'cameras/dactyl_rig.yaml'

# Names of what build_model adds, for the simulator and tests.
CUBE_BODY = 'cube'
CUBE_GEOM = 'cube'
CUBE_JOINT = 'cube:joint'
FLOOR_GEOM = 'floor'

# Pixels per cube face in the texture: about 0.1 mm per texel on a 5.7 cm cube, far finer than
# any camera resolves, and 4.7 MB of texture.
CUBE_TEXTURE_PIXELS = 512


@dataclass(frozen=True)
class LightConfig:
    name: str
    position: tuple
    direction: tuple
    directional: bool
    ambient: tuple
    diffuse: tuple
    specular: tuple


@dataclass(frozen=True)
class SceneConfig:
    """Validated config/sim/scene.yaml. Quaternions are stored wxyz (MuJoCo order)."""

    source: pathlib.Path
    hand_mount_position: tuple
    hand_mount_quat: tuple
    cube_position: tuple
    cube_quat: tuple
    cube_mass: float
    cube_friction: tuple
    cube_markers: str               # the cube's description: size and markers (config/cube/)
    camera_rig: str                 # the cameras that see this scene (config/cameras/)
    cube_condim: int                # MuJoCo contact dimensionality of the cube's geom
    cube_solref: tuple | None       # None: MuJoCo's defaults
    cube_solimp: tuple | None
    timestep: float                 # None: keep the hand model's
    hand_gravity_compensation: bool
    drop_below_palm: float
    floor_enabled: bool
    floor_height: float
    offscreen_width: int
    offscreen_height: int
    offsamples: int
    headlight_ambient: tuple
    headlight_diffuse: tuple
    headlight_specular: tuple
    lights: tuple
    randomization: dict = field(default_factory=dict)   # name -> (low, high) or jitter float


# Randomization entries: scale ranges (low, high) with 0 < low <= high, and jitter magnitudes.
RANDOMIZATION_SCALES = ('cube_friction_scale', 'hand_friction_scale', 'cube_mass_scale',
                        'link_mass_scale', 'actuator_kp_scale', 'joint_damping_scale',
                        'light_diffuse_scale')
RANDOMIZATION_JITTERS = ('camera_position_jitter', 'camera_rotation_jitter',
                         'light_position_jitter', 'light_direction_jitter')


def load_scene_config(name: str = DEFAULT_SCENE) -> SceneConfig:
    """Load and validate a scene config (config/sim/*.yaml or a path)."""
    data, path = load_yaml(name)
    top = Fields(data, str(path)).allow('hand_mount', 'cube', 'camera_rig', 'physics', 'drop',
                                        'floor', 'render', 'lighting', 'randomization')
    mount = top.section('hand_mount').allow('position', 'orientation_xyzw')
    cube = top.section('cube').allow('position', 'orientation_xyzw', 'mass', 'friction',
                                     'markers', 'contact')
    contact = cube.section('contact', {}).allow('condim', 'solref', 'solimp')
    condim = contact.integer('condim', 4) if 'condim' in contact.data else 4
    if condim not in (1, 3, 4, 6):
        raise ConfigError(f'{contact.where}.condim: expected 1, 3, 4 or 6, got {condim}')
    solref = tuple(contact.vector('solref', 2)) if 'solref' in contact.data else None
    solimp = tuple(contact.vector('solimp', 5)) if 'solimp' in contact.data else None
    physics = top.section('physics', {}).allow('timestep', 'hand_gravity_compensation')
    drop = top.section('drop').allow('below_palm')
    floor = top.section('floor', {'enabled': False}).allow('enabled', 'height')
    render = top.section('render', {}).allow('offscreen_width', 'offscreen_height',
                                             'offsamples')
    lighting = top.section('lighting').allow('headlight', 'lights')
    headlight = lighting.section('headlight').allow('ambient', 'diffuse', 'specular')

    timestep = None
    if physics.data.get('timestep') is not None:
        timestep = physics.number('timestep', positive=True)
    gravcomp = physics.data.get('hand_gravity_compensation', True)
    if not isinstance(gravcomp, bool):
        raise ConfigError(
            f'{physics.where}.hand_gravity_compensation: expected true or false, got {gravcomp!r}')
    floor_enabled = floor.data.get('enabled', False)
    if not isinstance(floor_enabled, bool):
        raise ConfigError(f'{floor.where}.enabled: expected true or false, got {floor_enabled!r}')
    cube_friction = cube.vector('friction', 3, [1.0, 0.005, 0.0001])
    if min(cube_friction) < 0:
        raise ConfigError(f'{cube.where}.friction: must not be negative, got {cube_friction}')

    lights = []
    for i, raw in enumerate(lighting.items('lights')):
        light = Fields(raw, f'{lighting.where}.lights[{i}]').allow(
            'name', 'position', 'direction', 'directional', 'ambient', 'diffuse', 'specular')
        lname = light.text('name')
        directional = light.data.get('directional', True)
        if not isinstance(directional, bool):
            raise ConfigError(f'{light.where}.directional: expected true or false')
        direction = light.vector('direction', 3)
        if np.linalg.norm(direction) < 1e-9:
            raise ConfigError(f'{light.where}.direction: must not be zero')
        lights.append(LightConfig(
            name=lname, position=tuple(light.vector('position', 3)), direction=tuple(direction),
            directional=directional, ambient=tuple(_colour(light, 'ambient', [0.0] * 3)),
            diffuse=tuple(_colour(light, 'diffuse', [0.7] * 3)),
            specular=tuple(_colour(light, 'specular', [0.3] * 3))))
    if len({light.name for light in lights}) != len(lights):
        raise ConfigError(f'{lighting.where}.lights: light names must be distinct')

    randomization = _parse_randomization(top.section('randomization', {}))

    offscreen_width = render.integer('offscreen_width', 640, positive=True)
    offscreen_height = render.integer('offscreen_height', 480, positive=True)
    offsamples = render.integer('offsamples', 0) if 'offsamples' in render.data else 0
    if offsamples < 0:
        raise ConfigError(f'{render.where}.offsamples: must be >= 0, got {offsamples}')

    return SceneConfig(
        source=path,
        hand_mount_position=tuple(mount.vector('position', 3)),
        hand_mount_quat=tuple(_quat_xyzw(mount, 'orientation_xyzw')),
        cube_position=tuple(cube.vector('position', 3)),
        cube_quat=tuple(_quat_xyzw(cube, 'orientation_xyzw')),
        cube_mass=cube.number('mass', positive=True),
        cube_friction=tuple(cube_friction),
        cube_markers=cube.text('markers') if 'markers' in cube.data else DEFAULT_CUBE,
        cube_condim=condim, cube_solref=solref, cube_solimp=solimp,
        camera_rig=top.text('camera_rig') if 'camera_rig' in top.data else DEFAULT_RIG,
        timestep=timestep,
        hand_gravity_compensation=gravcomp,
        drop_below_palm=drop.number('below_palm', positive=True),
        floor_enabled=floor_enabled,
        floor_height=floor.number('height', 0.0) if 'height' in floor.data else 0.0,
        offscreen_width=offscreen_width,
        offscreen_height=offscreen_height,
        offsamples=offsamples,
        headlight_ambient=tuple(_colour(headlight, 'ambient', [0.1] * 3)),
        headlight_diffuse=tuple(_colour(headlight, 'diffuse', [0.4] * 3)),
        headlight_specular=tuple(_colour(headlight, 'specular', [0.0] * 3)),
        lights=tuple(lights),
        randomization=randomization,
    )


def _parse_randomization(section: Fields) -> dict:
    ranges = {}
    section.allow(*RANDOMIZATION_SCALES, *RANDOMIZATION_JITTERS, 'reset_yaw')
    for key in RANDOMIZATION_SCALES:
        low, high = section.vector(key, 2, [1.0, 1.0])
        if not 0 < low <= high:
            raise ConfigError(f'{section.where}.{key}: need 0 < low <= high, got {[low, high]}')
        ranges[key] = (low, high)
    for key in RANDOMIZATION_JITTERS:
        value = section.number(key, 0.0) if key in section.data else 0.0
        if value < 0:
            raise ConfigError(f'{section.where}.{key}: must be >= 0, got {value}')
        ranges[key] = value
    low, high = section.vector('reset_yaw', 2, [0.0, 0.0])
    if not low <= high:
        raise ConfigError(f'{section.where}.reset_yaw: need low <= high, got {[low, high]}')
    ranges['reset_yaw'] = (low, high)
    return ranges


def _colour(fields: Fields, key, default) -> list:
    value = fields.vector(key, 3, default)
    if min(value) < 0:
        raise ConfigError(f'{fields.where}.{key}: colour components must be >= 0, got {value}')
    return value


def _quat_xyzw(fields: Fields, key) -> np.ndarray:
    """Read a ROS-order quaternion and return it normalized in MuJoCo (wxyz) order."""
    xyzw = fields.vector(key, 4)
    if abs(np.linalg.norm(xyzw) - 1.0) > 1e-3:
        raise ConfigError(
            f'{fields.where}.{key}: quaternion {xyzw} is not of unit length (x, y, z, w order)')
    return quat_normalize(wxyz_from_xyzw(xyzw))


# ---------------------------------------------------------------------------- camera rig


@dataclass(frozen=True)
class CameraConfig:
    """One camera of a rig. optical_quat: REP-103 optical frame in world (wxyz)."""

    name: str
    position: tuple
    optical_quat: tuple
    width: int
    height: int
    rate_hz: float
    fovy_deg: float = None          # either this ...
    intrinsics: tuple = None        # ... or (fx, fy, cx, cy) [px], OpenCV convention

    @property
    def frame_id(self) -> str:
        return f'{self.name}_optical'

    def matrix(self) -> np.ndarray:
        """Return the 3x3 intrinsic matrix K (OpenCV convention, no distortion)."""
        if self.intrinsics is not None:
            fx, fy, cx, cy = self.intrinsics
        else:
            fx = fy = (self.height / 2.0) / math.tan(math.radians(self.fovy_deg) / 2.0)
            # The optical axis pierces the image centre; with pixel centres at integer
            # coordinates (OpenCV) that is (W - 1) / 2.
            cx, cy = (self.width - 1) / 2.0, (self.height - 1) / 2.0
        return np.array([[fx, 0.0, cx], [0.0, fy, cy], [0.0, 0.0, 1.0]])

    def mujoco_quat(self) -> np.ndarray:
        """Return the orientation of the MuJoCo camera frame (x right, y up, -z forward)."""
        # R_world_optical = R_world_mjcam @ R_mjcam_optical and the pi rotation about x is its
        # own inverse, so the same quaternion takes the optical frame back to MuJoCo's.
        return quat_normalize(quat_multiply(self.optical_quat, MJCAM_TO_OPTICAL_WXYZ))


@dataclass(frozen=True)
class CameraRig:
    source: pathlib.Path
    cameras: tuple

    @property
    def names(self) -> list:
        return [camera.name for camera in self.cameras]

    def camera(self, name: str) -> CameraConfig:
        for camera in self.cameras:
            if camera.name == name:
                return camera
        raise KeyError(f'no camera {name!r} in rig {self.source} (cameras: {self.names})')

    @classmethod
    def empty(cls) -> 'CameraRig':
        """Return a rig without cameras (for a physics-only simulator)."""
        return cls(source=None, cameras=())


def look_at_quat(position, target, up=(0.0, 0.0, 1.0)) -> np.ndarray:
    """Return the optical-frame orientation (wxyz) of a camera at position looking at target."""
    forward = np.asarray(target, float) - np.asarray(position, float)
    if np.linalg.norm(forward) < 1e-9:
        raise ValueError('look_at target coincides with the camera position')
    z_axis = forward / np.linalg.norm(forward)
    x_axis = np.cross(z_axis, np.asarray(up, float))
    if np.linalg.norm(x_axis) < 1e-6:
        raise ValueError(f'up {list(up)} is parallel to the viewing direction')
    x_axis /= np.linalg.norm(x_axis)
    y_axis = np.cross(z_axis, x_axis)
    return matrix_to_quat(np.column_stack([x_axis, y_axis, z_axis]))


def load_camera_rig(name: str = DEFAULT_RIG) -> CameraRig:
    """Load and validate a camera rig (config/cameras/*.yaml or a path)."""
    data, path = load_yaml(name)
    top = Fields(data, str(path))
    defaults = top.section('defaults', {})
    defaults.allow('width', 'height', 'rate_hz', 'fovy_deg', 'intrinsics')
    entries = top.items('cameras')
    if not entries:
        raise ConfigError(f'{path}: cameras: the list is empty')
    cameras = []
    for i, raw in enumerate(entries):
        cam = Fields(raw, f'{path}: cameras[{i}]')
        cam_name = cam.text('name')
        cam.where = f'{path}: camera {cam_name}'
        if cam_name in [c.name for c in cameras]:
            raise ConfigError(f'{cam.where}: duplicate camera name')
        cam.allow('name', 'position', 'look_at', 'up', 'orientation_xyzw', 'fovy_deg',
                  'intrinsics', 'width', 'height', 'rate_hz')
        merged = Fields({**defaults.data, **cam.data}, cam.where)
        position = merged.vector('position', 3)
        if ('look_at' in cam.data) == ('orientation_xyzw' in cam.data):
            raise ConfigError(f'{cam.where}: needs exactly one of "look_at" or "orientation_xyzw"')
        if 'look_at' in cam.data:
            try:
                optical_quat = look_at_quat(position, merged.vector('look_at', 3),
                                            merged.vector('up', 3, [0.0, 0.0, 1.0]))
            except ValueError as exc:
                raise ConfigError(f'{cam.where}.look_at: {exc}') from None
        else:
            if 'up' in cam.data:
                raise ConfigError(f'{cam.where}.up: only meaningful with look_at')
            optical_quat = _quat_xyzw(merged, 'orientation_xyzw')
        width = merged.integer('width', positive=True)
        height = merged.integer('height', positive=True)
        rate_hz = merged.number('rate_hz', positive=True)
        # A camera's own choice of model wins over the defaults' other choice.
        has_fovy, has_intr = 'fovy_deg' in cam.data, 'intrinsics' in cam.data
        if has_fovy and has_intr:
            raise ConfigError(f'{cam.where}: give either "fovy_deg" or "intrinsics", not both')
        if not has_fovy and not has_intr:
            has_fovy, has_intr = 'fovy_deg' in defaults.data, 'intrinsics' in defaults.data
            if has_fovy == has_intr:
                raise ConfigError(
                    f'{cam.where}: needs "fovy_deg" or "intrinsics" (here or in defaults)')
        fovy = intrinsics = None
        if has_fovy:
            fovy = merged.number('fovy_deg', positive=True)
            if not fovy < 180.0:
                raise ConfigError(f'{cam.where}.fovy_deg: must be below 180, got {fovy}')
        else:
            intr = merged.section('intrinsics')
            intrinsics = (intr.number('fx', positive=True), intr.number('fy', positive=True),
                          intr.number('cx'), intr.number('cy'))
        cameras.append(CameraConfig(
            name=cam_name, position=tuple(position), optical_quat=tuple(optical_quat),
            width=width, height=height, rate_hz=rate_hz, fovy_deg=fovy,
            intrinsics=intrinsics))
    return CameraRig(source=path, cameras=tuple(cameras))


# ---------------------------------------------------------------------------- model


def build_spec(profile, scene: SceneConfig, rig: CameraRig = None,
               cube: CubeMarkers = None) -> mujoco.MjSpec:
    """Compose the scene as an MjSpec (see build_model); callers may add to it before compiling."""
    spec = mujoco.MjSpec.from_file(str(profile.model_path()))
    resolve_meshes(spec, profile)
    for body_name in profile.remove_bodies:
        body = spec.body(body_name)
        if body is None:
            raise ConfigError(f'{profile.source}: remove_bodies: no body {body_name!r} in model')
        spec.delete(body)
    for geom_name in profile.remove_geoms:
        geom = spec.geom(geom_name)
        if geom is None:
            raise ConfigError(f'{profile.source}: remove_geoms: no geom {geom_name!r} in model')
        spec.delete(geom)
    # The gym's own light is replaced by the configured ones.
    for light in list(spec.lights):
        spec.delete(light)

    mount = spec.body(profile.mount_body)
    if mount is None:
        raise ConfigError(f'{profile.source}: mount_body {profile.mount_body!r} not in model')
    mount.pos = list(scene.hand_mount_position)
    mount.alt.type = mujoco.mjtOrientation.mjORIENTATION_QUAT   # drop the MJCF's euler
    mount.quat = list(scene.hand_mount_quat)
    if scene.hand_gravity_compensation:
        for body in [mount] + list(mount.find_all(mujoco.mjtObj.mjOBJ_BODY)):
            body.gravcomp = 1.0

    if scene.timestep is not None:
        spec.option.timestep = scene.timestep
    quality = spec.visual.quality
    quality.shadowsize = 0          # shadow maps cost 20-30x per CPU-rendered frame
    quality.offsamples = scene.offsamples
    widths = [c.width for c in rig.cameras] if rig else []
    heights = [c.height for c in rig.cameras] if rig else []
    spec.visual.global_.offwidth = max([scene.offscreen_width] + widths)
    spec.visual.global_.offheight = max([scene.offscreen_height] + heights)
    spec.visual.headlight.ambient = list(scene.headlight_ambient)
    spec.visual.headlight.diffuse = list(scene.headlight_diffuse)
    spec.visual.headlight.specular = list(scene.headlight_specular)

    for light in scene.lights:
        spec.worldbody.add_light(
            name=light.name, pos=list(light.position),
            dir=list(np.asarray(light.direction) / np.linalg.norm(light.direction)),
            type=(mujoco.mjtLightType.mjLIGHT_DIRECTIONAL if light.directional
                  else mujoco.mjtLightType.mjLIGHT_SPOT),
            castshadow=False, ambient=list(light.ambient), diffuse=list(light.diffuse),
            specular=list(light.specular))

    if scene.floor_enabled:
        spec.add_texture(name='floor', type=mujoco.mjtTexture.mjTEXTURE_2D,
                         builtin=mujoco.mjtBuiltin.mjBUILTIN_CHECKER, width=256, height=256,
                         rgb1=[0.35, 0.35, 0.38], rgb2=[0.25, 0.25, 0.28])
        floor_material = spec.add_material(name='floor', texrepeat=[8, 8])
        floor_material.textures[mujoco.mjtTextureRole.mjTEXROLE_RGB] = 'floor'
        spec.worldbody.add_geom(name=FLOOR_GEOM, type=mujoco.mjtGeom.mjGEOM_PLANE,
                                pos=[0.0, 0.0, scene.floor_height], size=[1.0, 1.0, 0.05],
                                material='floor', condim=3)

    if cube is not None:
        _add_cube(spec, scene, cube)
    for camera in (rig.cameras if rig else ()):
        _add_camera(spec, camera)
    return spec


def resolve_meshes(spec: mujoco.MjSpec, profile) -> list:
    """
    Check that the mesh files the hand's MJCF names exist; return the geoms dropped.

    Absent files are handled as the profile's model.missing_meshes says.

    refuse (default): ConfigError listing the missing files. drop_visual: the visual-only geoms
    (contype = conaffinity = 0) that use a missing mesh are removed, and the collision geometry
    of their bodies is drawn instead (moved to geom group 2, which cameras and viewers show).
    The physics stays what it was: a collision geom on a missing mesh, or a dropped geom that
    counts toward its body's inertia, is still refused.
    """
    base = pathlib.Path(spec.modelfiledir or profile.model_path().parent)
    meshdir = base / (spec.compiler.meshdir or spec.meshdir or '')
    missing = {}
    for mesh in spec.meshes:
        if mesh.file:
            path = pathlib.Path(mesh.file)
            path = path if path.is_absolute() else meshdir / path
            if not path.is_file():
                missing[mesh.name] = path
    if not missing:
        return []
    where = f'{profile.source}: the hand model {profile.model_path()}'
    shown = ', '.join(str(p) for p in list(missing.values())[:4])
    more = f' and {len(missing) - 4} more' if len(missing) > 4 else ''
    if profile.missing_meshes != 'drop_visual':
        raise ConfigError(
            f'{where} names {len(missing)} mesh file(s) that are not on disk: {shown}{more}. '
            'Install the model with its meshes, or set model.missing_meshes: drop_visual in '
            'the profile to drop the visual-only geoms that use them (physics unchanged, the '
            'collision geometry is drawn instead)')
    users = [g for g in spec.geoms if g.meshname in missing]
    collision = [g.name or g.meshname for g in users if g.contype or g.conaffinity]
    if collision:
        raise ConfigError(
            f'{where}: collision geom(s) {", ".join(collision)} use mesh files that are not on '
            f'disk ({shown}{more}); the physics needs them, so missing_meshes: drop_visual '
            'cannot drop them')
    low, high = spec.compiler.inertiagrouprange
    from_geoms = spec.compiler.inertiafromgeom
    for geom in users:
        body = geom.parent
        counts = from_geoms == mujoco.mjtInertiaFromGeom.mjINERTIAFROMGEOM_TRUE or (
            from_geoms == mujoco.mjtInertiaFromGeom.mjINERTIAFROMGEOM_AUTO
            and not body.explicitinertial)
        if counts and low <= geom.group <= high:
            raise ConfigError(
                f'{where}: visual geom {geom.name or geom.meshname!r} (mesh file not on disk) '
                f'gives body {body.name!r} its inertia; dropping it would change the physics')
    bodies = {geom.parent.name for geom in users}
    dropped = [geom.name or geom.meshname for geom in users]
    for geom in users:
        spec.delete(geom)
    for name in missing:
        spec.delete(spec.mesh(name))
    for geom in spec.geoms:
        if geom.parent.name in bodies and (geom.contype or geom.conaffinity) and geom.group > 2:
            geom.group = 2
    return dropped


def build_model(profile, scene: SceneConfig, rig: CameraRig = None,
                cube: CubeMarkers = None) -> mujoco.MjModel:
    """
    Build the MuJoCo model of the hand scene.

    rig=None: no cameras; cube=None: no cube. The hand sits at the same world pose either way,
    so a hand-only model gives the same forward kinematics as the full scene.
    """
    return compile_spec(build_spec(profile, scene, rig, cube), scene)


def compile_spec(spec: mujoco.MjSpec, scene: SceneConfig) -> mujoco.MjModel:
    """Compile a scene spec; raise ConfigError naming the scene on failure."""
    try:
        return spec.compile()
    except ValueError as exc:
        raise ConfigError(f'scene {scene.source}: MuJoCo cannot compile the model: {exc}') \
            from exc


def _add_cube(spec: mujoco.MjSpec, scene: SceneConfig, cube: CubeMarkers):
    texture = cube.texture_image(CUBE_TEXTURE_PIXELS)
    tex = spec.add_texture(name='cube_markers', type=mujoco.mjtTexture.mjTEXTURE_CUBE,
                           width=texture.shape[1], height=texture.shape[0], nchannel=3)
    tex.data = texture.tobytes()
    material = spec.add_material(name='cube_markers', specular=0.2, shininess=0.2,
                                 reflectance=0.0)
    material.textures[mujoco.mjtTextureRole.mjTEXROLE_RGB] = 'cube_markers'
    body = spec.worldbody.add_body(name=CUBE_BODY, pos=list(scene.cube_position),
                                   quat=list(scene.cube_quat))
    body.add_freejoint(name=CUBE_JOINT)
    half = cube.cube_size / 2.0
    geom = body.add_geom(name=CUBE_GEOM, type=mujoco.mjtGeom.mjGEOM_BOX, size=[half] * 3,
                         mass=scene.cube_mass, friction=list(scene.cube_friction),
                         condim=scene.cube_condim, material='cube_markers')
    if scene.cube_solref is not None:
        geom.solref = list(scene.cube_solref)
    if scene.cube_solimp is not None:
        geom.solimp = list(scene.cube_solimp)
    body.add_site(name='cube:center', pos=[0.0, 0.0, 0.0], size=[0.005] * 3,
                  rgba=[1.0, 0.0, 0.0, 0.0], group=3)


def _add_camera(spec: mujoco.MjSpec, camera: CameraConfig):
    kwargs = {'name': camera.name, 'pos': list(camera.position),
              'quat': list(camera.mujoco_quat())}
    if camera.intrinsics is None:
        kwargs['fovy'] = camera.fovy_deg
    spec_camera = spec.worldbody.add_camera(**kwargs)
    if camera.intrinsics is not None:
        fx, fy, cx, cy = camera.intrinsics
        # MuJoCo's intrinsic camera: focal lengths and principal point in pixels of a sensor
        # of the image's size (the pixel pitch cancels out). Its principal point is an offset
        # from the image centre, (W - 1) / 2 in OpenCV pixel coordinates, that moves the image
        # content the other way: measured by rendering spheres at known points
        # (test_sim_cameras.py checks it to a fraction of a pixel).
        spec_camera.resolution = [camera.width, camera.height]
        spec_camera.sensor_size = [camera.width * 1e-5, camera.height * 1e-5]
        spec_camera.focal_pixel = [fx, fy]
        spec_camera.principal_pixel = [(camera.width - 1) / 2.0 - cx,
                                       (camera.height - 1) / 2.0 - cy]
    return spec_camera


def optical_pose(model: mujoco.MjModel, data: mujoco.MjData, camera_id: int) -> tuple:
    """Return (position, wxyz) of a camera's REP-103 optical frame in world, from data."""
    mat = data.cam_xmat[camera_id].reshape(3, 3)
    quat_mjcam = matrix_to_quat(mat)
    optical = quat_normalize(quat_multiply(quat_mjcam, MJCAM_TO_OPTICAL_WXYZ))
    return data.cam_xpos[camera_id].copy(), optical
