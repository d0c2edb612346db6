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
HandSim: the ROS-free physics core that stands in for the hand and its cameras.

The sim_bridge node, the tests, the benchmarks and training all drive this class. Joints are
addressed by their ROS names from the hand profile; arrays come in profile order. Poses are in
the world frame of config/sim/scene.yaml, quaternions wxyz (MuJoCo order; convert for ROS with
inhand.transforms.xyzw_from_wxyz).

Not thread-safe: step, read and render from one thread (or hold one lock around all of them).
"""
from dataclasses import dataclass
import math

from hand_control.hand_profile import HandProfile, load_hand_profile
from inhand.cube_markers import CubeMarkers, load_cube_markers
from inhand.hand_model import (build_spec, CameraRig, compile_spec, CUBE_BODY, CUBE_GEOM,
                               CUBE_JOINT, load_camera_rig, load_scene_config, optical_pose,
                               RANDOMIZATION_JITTERS, RANDOMIZATION_SCALES, SceneConfig)
from inhand.transforms import axis_angle_to_quat, quat_multiply, quat_normalize
import mujoco
import numpy as np

_INSTABILITY_WARNINGS = (mujoco.mjtWarning.mjWARN_BADQPOS, mujoco.mjtWarning.mjWARN_BADQVEL,
                         mujoco.mjtWarning.mjWARN_BADQACC)


class SimulationUnstable(RuntimeError):
    """The physics blew up (NaN or huge state); the simulator has been reset."""


# The 24 rotations that map a cube onto itself: every face up (6) times four quarter turns.
_FACE_UP_QUATS = []


def _cube_symmetry_quats() -> list:
    if not _FACE_UP_QUATS:
        quarter = math.pi / 2
        face_up = [axis_angle_to_quat([1, 0, 0], a) for a in (0, quarter, 2 * quarter, -quarter)]
        face_up += [axis_angle_to_quat([0, 1, 0], a) for a in (quarter, -quarter)]
        for base in face_up:
            for k in range(4):
                _FACE_UP_QUATS.append(quat_multiply(
                    axis_angle_to_quat([0, 0, 1], k * math.pi / 2), base))
    return _FACE_UP_QUATS


@dataclass(frozen=True)
class CameraSpec:
    """A camera as a ROS camera_info needs it; pose of the REP-103 optical frame in world."""

    name: str
    width: int
    height: int
    K: np.ndarray           # 3x3 intrinsic matrix, OpenCV convention, no distortion
    frame_id: str           # '<name>_optical'
    rate_hz: float
    position: np.ndarray    # [3], world
    quat_wxyz: np.ndarray   # [4], optical frame (x right, y down, z forward) in world


class HandSim:
    """Shadow hand + ArUco cube + cameras in MuJoCo, addressed by ROS joint names."""

    def __init__(self, profile=None, scene=None, rig=None, cube=None, seed=0,
                 extend_spec=None):
        """
        Build the scene; None picks the defaults from config/.

        profile: HandProfile or profile name ('shadow'); scene: SceneConfig or path; rig:
        CameraRig or path (CameraRig.empty() for no cameras); cube: CubeMarkers or path.
        seed: the generator reset() and randomize() draw from unless given their own.
        extend_spec: optional callable(mujoco.MjSpec) run before compiling, to add things to
        the scene (tests add coloured spheres at known points this way).
        """
        self.profile = profile if isinstance(profile, HandProfile) \
            else load_hand_profile(profile or 'shadow')
        self.scene = scene if isinstance(scene, SceneConfig) \
            else load_scene_config(*([scene] if scene else []))
        self.rig = rig if isinstance(rig, CameraRig) \
            else load_camera_rig(rig or self.scene.camera_rig)
        # The cube is the scene's (its cube.markers file) unless the caller names another.
        self.cube = cube if isinstance(cube, CubeMarkers) \
            else load_cube_markers(cube or self.scene.cube_markers)
        spec = build_spec(self.profile, self.scene, self.rig, self.cube)
        if extend_spec is not None:
            extend_spec(spec)
        self.model = compile_spec(spec, self.scene)
        self.data = mujoco.MjData(self.model)
        self._rng = np.random.default_rng(seed)
        self._index_model()
        self._keep_nominal()
        self._vis_option = mujoco.MjvOption()   # defaults hide collision geoms and sites
        self._renderers = {}
        self._mjv_cameras = {}
        for name in self.camera_names:
            camera = mujoco.MjvCamera()
            camera.type = mujoco.mjtCamera.mjCAMERA_FIXED
            camera.fixedcamid = self._camera_ids[name]
            self._mjv_cameras[name] = camera
        self._kinematics_stale = True
        self.instabilities = 0          # times step() found the physics unstable
        self.reset()

    # ------------------------------------------------------------------ set-up

    def _id(self, obj, name, what) -> int:
        index = mujoco.mj_name2id(self.model, obj, name)
        if index < 0:
            raise ValueError(f'hand profile {self.profile.source}: no {what} {name!r} in model')
        return index

    def _index_model(self):
        m, prof = self.model, self.profile
        joint_ids = [self._id(mujoco.mjtObj.mjOBJ_JOINT, j, 'joint') for j in prof.mujoco_joints]
        self._qpos_adr = np.array([m.jnt_qposadr[j] for j in joint_ids])
        self._dof_adr = np.array([m.jnt_dofadr[j] for j in joint_ids])
        self._actuated_rows = prof.actuated_indices
        self._actuator_ids = np.array([
            self._id(mujoco.mjtObj.mjOBJ_ACTUATOR, a, 'actuator')
            for a in prof.actuators if a])
        self._actuator_of = dict(zip(prof.actuated_joint_names, self._actuator_ids))
        self._ctrl_low = m.actuator_ctrlrange[self._actuator_ids, 0].copy()
        self._ctrl_high = m.actuator_ctrlrange[self._actuator_ids, 1].copy()
        self._palm_body = self._id(mujoco.mjtObj.mjOBJ_BODY, prof.palm_body, 'body')
        self._palm_site = self._id(mujoco.mjtObj.mjOBJ_SITE, prof.palm_site, 'site') \
            if prof.palm_site else None
        self._tip_sites = np.array([self._id(mujoco.mjtObj.mjOBJ_SITE, t.site, 'site')
                                    for t in prof.fingertips])
        self._cube_body = mujoco.mj_name2id(m, mujoco.mjtObj.mjOBJ_BODY, CUBE_BODY)
        self._cube_geom = mujoco.mj_name2id(m, mujoco.mjtObj.mjOBJ_GEOM, CUBE_GEOM)
        cube_joint = mujoco.mj_name2id(m, mujoco.mjtObj.mjOBJ_JOINT, CUBE_JOINT)
        self._cube_qpos = m.jnt_qposadr[cube_joint] if cube_joint >= 0 else None
        self._cube_dof = m.jnt_dofadr[cube_joint] if cube_joint >= 0 else None
        self._camera_ids = {c.name: mujoco.mj_name2id(m, mujoco.mjtObj.mjOBJ_CAMERA, c.name)
                            for c in self.rig.cameras}
        # Everything of the hand: bodies below the mount, their geoms and the hand's dofs.
        mount = self._id(mujoco.mjtObj.mjOBJ_BODY, prof.mount_body, 'body')
        self._hand_bodies = np.array([b for b in range(m.nbody) if _descends(m, b, mount)])
        self._hand_geoms = np.flatnonzero(np.isin(m.geom_bodyid, self._hand_bodies))
        self._hand_dofs = np.flatnonzero(np.isin(m.dof_bodyid, self._hand_bodies))

    def _keep_nominal(self):
        m = self.model
        self._nominal = {name: getattr(m, name).copy() for name in (
            'geom_friction', 'body_mass', 'body_inertia', 'actuator_gainprm',
            'actuator_biasprm', 'dof_damping', 'cam_pos', 'cam_quat', 'light_diffuse',
            'light_pos', 'light_dir')}

    # ------------------------------------------------------------------ time and stepping

    @property
    def timestep(self) -> float:
        return float(self.model.opt.timestep)

    @property
    def time(self) -> float:
        """Return the simulated time [s]."""
        return float(self.data.time)

    def step(self, n: int = 1):
        """
        Advance the physics by n steps of self.timestep.

        Raise SimulationUnstable if MuJoCo found NaN/huge positions, velocities or
        accelerations. MuJoCo then resets its data on its own, clock included; this puts the
        hand and cube back to reset() instead, with the clock where it should be, before
        raising, so the caller may carry on.
        """
        if isinstance(n, bool) or not isinstance(n, (int, np.integer)) or n < 1:
            raise ValueError(f'step count must be a positive integer, got {n!r}')
        warnings = self.data.warning
        before = [warnings[w].number for w in _INSTABILITY_WARNINGS]
        expected_time = self.data.time + n * self.model.opt.timestep
        mujoco.mj_step(self.model, self.data, nstep=int(n))
        self._kinematics_stale = True
        after = [warnings[w].number for w in _INSTABILITY_WARNINGS]
        if after != before:
            what = [w.name for w, b, a in zip(_INSTABILITY_WARNINGS, before, after) if a != b]
            self.data.time = expected_time
            self.reset()
            self.instabilities += 1
            raise SimulationUnstable(
                f'physics became unstable ({", ".join(what)}) before t={expected_time:.3f} s; '
                'hand and cube were reset')

    def _kinematics(self):
        # After mj_step the frames in data belong to the state before the last integration;
        # refresh them (cheap: no collision or dynamics) so poses and renders match qpos.
        if self._kinematics_stale:
            mujoco.mj_kinematics(self.model, self.data)
            mujoco.mj_comPos(self.model, self.data)
            mujoco.mj_camlight(self.model, self.data)
            self._kinematics_stale = False

    # ------------------------------------------------------------------ joints

    @property
    def joint_names(self) -> tuple:
        return self.profile.joint_names

    @property
    def actuated_joint_names(self) -> tuple:
        return self.profile.actuated_joint_names

    def set_targets(self, names, positions) -> np.ndarray:
        """
        Set position targets of actuated joints by ROS name (any subset).

        Raise ValueError naming the problem (unknown or coupled joint, duplicate, length
        mismatch, non-finite value); nothing is applied then. Targets are clamped to the
        actuators' ctrlrange. Return the applied (clamped) targets in the order given.
        """
        if isinstance(names, str):
            raise ValueError(f'joint names must be a list of names, got the string {names!r}')
        names = list(names)
        values = np.asarray(positions, dtype=float).reshape(-1) \
            if np.ndim(positions) <= 1 else None
        if values is None or len(values) != len(names):
            raise ValueError(f'{len(names)} joint names but positions of shape '
                             f'{np.shape(positions)}')
        problems = []
        for name in names:
            if name in self._actuator_of:
                continue
            if name in self.profile.joint_names:
                driver = self.profile.coupled_to[self.profile.index(name)]
                problems.append(f'{name!r} is coupled to {driver!r} (command {driver!r})')
            else:
                problems.append(f'unknown joint {name!r}')
        if len(set(names)) != len(names):
            problems.append('duplicate joint names')
        bad = [n for n, v in zip(names, values) if not math.isfinite(v)]
        if bad:
            problems.append(f'non-finite target for {", ".join(bad)}')
        if problems:
            raise ValueError('rejected joint targets: ' + '; '.join(problems))
        ids = np.array([self._actuator_of[n] for n in names], dtype=int)
        clamped = np.clip(values, self.model.actuator_ctrlrange[ids, 0],
                          self.model.actuator_ctrlrange[ids, 1])
        self.data.ctrl[ids] = clamped
        return clamped

    def set_actuated_targets(self, positions) -> None:
        """
        Set the targets of all actuated joints, in profile.actuated_joint_names order.

        The trainer's fast path (no names to check): raise ValueError on a wrong length or a
        non-finite value, nothing applied then; clamp to the actuators' ctrlrange.
        """
        values = np.asarray(positions, dtype=float)
        if values.shape != self._ctrl_low.shape or not np.isfinite(values).all():
            raise ValueError(f'expected {self._ctrl_low.size} finite targets, got '
                             f'{values.tolist()}')
        self.data.ctrl[self._actuator_ids] = np.minimum(np.maximum(values, self._ctrl_low),
                                                        self._ctrl_high)

    def targets(self) -> np.ndarray:
        """Return the current targets, in profile.actuated_joint_names order."""
        return self.data.ctrl[self._actuator_ids].copy()

    def joint_state(self) -> tuple:
        """
        Return (position, velocity, effort), each (24,) in profile.joint_names order.

        effort is the actuator force [N m] of each actuated joint (data.actuator_force: the
        position servo's output after its force limit) and 0 for the coupled joints, which
        have no motor of their own.
        """
        position = self.data.qpos[self._qpos_adr].copy()
        velocity = self.data.qvel[self._dof_adr].copy()
        effort = np.zeros(len(self.profile.joint_names))
        effort[self._actuated_rows] = self.data.actuator_force[self._actuator_ids]
        return position, velocity, effort

    # ------------------------------------------------------------------ poses

    def _require_cube(self):
        if self._cube_qpos is None:
            raise RuntimeError('this simulator has no cube')

    def cube_pose(self) -> tuple:
        """Return (position[3], quat_wxyz[4]) of the cube centre in world."""
        self._require_cube()
        self._kinematics()
        return (self.data.xpos[self._cube_body].copy(),
                self.data.xquat[self._cube_body].copy())

    def cube_velocity(self) -> tuple:
        """
        Return (linear[3], angular[3]) velocity of the cube (its free joint's qvel).

        Linear is the velocity of the cube's centre in world axes; angular is in the cube's
        own (body) axes, as MuJoCo keeps a free joint's rotational velocity: rotate it by
        the cube's orientation for world axes.
        """
        self._require_cube()
        qvel = self.data.qvel[self._cube_dof:self._cube_dof + 6]
        return qvel[:3].copy(), qvel[3:].copy()

    def set_cube_pose(self, position, quat_wxyz, linear_velocity=(0, 0, 0),
                      angular_velocity=(0, 0, 0)):
        """Teleport the cube (world frame) and set its velocity."""
        self._require_cube()
        position = np.asarray(position, float)
        quat = np.asarray(quat_wxyz, float)
        lin, ang = np.asarray(linear_velocity, float), np.asarray(angular_velocity, float)
        if position.shape != (3,) or quat.shape != (4,) or lin.shape != (3,) \
                or ang.shape != (3,):
            raise ValueError('cube pose needs position[3], quat_wxyz[4] and velocities[3]')
        if not all(np.all(np.isfinite(v)) for v in (position, quat, lin, ang)):
            raise ValueError('cube pose or velocity is not finite')
        adr, dof = self._cube_qpos, self._cube_dof
        self.data.qpos[adr:adr + 3] = position
        self.data.qpos[adr + 3:adr + 7] = quat_normalize(quat)
        self.data.qvel[dof:dof + 3] = lin
        self.data.qvel[dof + 3:dof + 6] = ang
        mujoco.mj_forward(self.model, self.data)
        self._kinematics_stale = False

    def palm_pose(self) -> tuple:
        """Return (position[3], quat_wxyz[4]) of the palm (profile palm_site, else palm_body)."""
        self._kinematics()
        if self._palm_site is not None:
            quat = np.empty(4)
            mujoco.mju_mat2Quat(quat, self.data.site_xmat[self._palm_site])
            return self.data.site_xpos[self._palm_site].copy(), quat
        return (self.data.xpos[self._palm_body].copy(),
                self.data.xquat[self._palm_body].copy())

    def fingertip_positions(self) -> np.ndarray:
        """Return the (5, 3) fingertip site positions in world, profile.fingertips order."""
        self._kinematics()
        return self.data.site_xpos[self._tip_sites].copy()

    def cube_dropped(self) -> bool:
        """Return whether the cube centre is below the palm by the configured threshold."""
        cube_position, _ = self.cube_pose()
        palm_position, _ = self.palm_pose()
        return bool(cube_position[2] < palm_position[2] - self.scene.drop_below_palm)

    # ------------------------------------------------------------------ cameras

    @property
    def camera_names(self) -> list:
        return self.rig.names

    def camera(self, name: str) -> CameraSpec:
        """Return intrinsics and the current optical-frame pose of a camera."""
        config = self.rig.camera(name)
        self._kinematics()
        position, quat = optical_pose(self.model, self.data, self._camera_ids[name])
        return CameraSpec(name=name, width=config.width, height=config.height,
                          K=config.matrix(), frame_id=config.frame_id,
                          rate_hz=config.rate_hz, position=position, quat_wxyz=quat)

    def render(self, name: str) -> np.ndarray:
        """Render a camera: (height, width, 3) uint8 RGB, row 0 at the top."""
        config = self.rig.camera(name)
        size = (config.height, config.width)
        renderer = self._renderers.get(size)
        if renderer is None:
            # One renderer (GL context + scene) per image size, shared by all cameras of it.
            renderer = mujoco.Renderer(self.model, height=size[0], width=size[1])
            self._renderers[size] = renderer
        self._kinematics()
        renderer.update_scene(self.data, camera=self._mjv_cameras[name],
                              scene_option=self._vis_option)
        return renderer.render()

    # ------------------------------------------------------------------ reset

    def reset(self, randomize_cube: bool = False, rng_seed=None):
        """
        Put the hand at its home pose (positions and targets) and the cube at rest in the palm.

        randomize_cube: the cube takes one of its 24 face-aligned orientations and a yaw from
        the scene's randomization.reset_yaw range, at the nominal position, so it still rests
        flat in the palm. Sim time keeps running (it is the ROS clock); domain randomization
        stays as it is.
        """
        rng = self._rng if rng_seed is None else np.random.default_rng(rng_seed)
        time = self.data.time
        mujoco.mj_resetData(self.model, self.data)
        self.data.time = time
        self.data.qpos[self._qpos_adr] = self.profile.home
        self.data.ctrl[self._actuator_ids] = np.clip(
            self.profile.home[self._actuated_rows], self._ctrl_low, self._ctrl_high)
        if self._cube_qpos is not None:
            quat = np.asarray(self.scene.cube_quat)
            if randomize_cube:
                symmetries = _cube_symmetry_quats()
                low, high = self.scene.randomization['reset_yaw']
                yaw = axis_angle_to_quat([0, 0, 1], rng.uniform(low, high))
                quat = quat_multiply(yaw, quat_multiply(
                    symmetries[rng.integers(len(symmetries))], quat))
            adr = self._cube_qpos
            self.data.qpos[adr:adr + 3] = self.scene.cube_position
            self.data.qpos[adr + 3:adr + 7] = quat_normalize(quat)
        mujoco.mj_forward(self.model, self.data)
        self._kinematics_stale = False

    # ------------------------------------------------------------------ randomization

    def randomize(self, rng=None, **overrides) -> dict:
        """
        Draw new physical and visual parameters around the nominal model; return them.

        Every draw starts from the nominal model, so nothing accumulates; restore_nominal()
        undoes it. Ranges come from the scene's randomization section; overrides replace them
        by name: a (low, high) pair, or a single number to fix a scale or a jitter magnitude
        (e.g. cube_mass_scale=1.2, camera_position_jitter=0). rng: None (the simulator's own
        generator), an int seed or a numpy Generator.

        Applied: cube_friction_scale (cube geom, all three coefficients), hand_friction_scale
        (one factor for all hand geoms), cube_mass_scale and link_mass_scale (per hand body;
        inertia scales with mass), actuator_kp_scale (per actuator; the position servo's bias
        -kp moves with it), joint_damping_scale (per hand dof), camera_position_jitter and
        camera_rotation_jitter (per camera), light_diffuse_scale, light_position_jitter and
        light_direction_jitter (per light).
        """
        if rng is None:
            rng = self._rng
        elif not isinstance(rng, np.random.Generator):
            rng = np.random.default_rng(rng)
        ranges = self._ranges(overrides)
        self._restore_arrays()
        m = self.model
        nominal = self._nominal
        applied = {}

        def scale(key, count):
            low, high = ranges[key]
            return rng.uniform(low, high, size=count)

        if self._cube_geom >= 0:
            factor = float(scale('cube_friction_scale', 1)[0])
            m.geom_friction[self._cube_geom] = nominal['geom_friction'][self._cube_geom] * factor
            applied['cube_friction_scale'] = factor
            factor = float(scale('cube_mass_scale', 1)[0])
            m.body_mass[self._cube_body] = nominal['body_mass'][self._cube_body] * factor
            m.body_inertia[self._cube_body] = nominal['body_inertia'][self._cube_body] * factor
            applied['cube_mass_scale'] = factor
        factor = float(scale('hand_friction_scale', 1)[0])
        m.geom_friction[self._hand_geoms] = nominal['geom_friction'][self._hand_geoms] * factor
        applied['hand_friction_scale'] = factor

        factors = scale('link_mass_scale', len(self._hand_bodies))
        m.body_mass[self._hand_bodies] = nominal['body_mass'][self._hand_bodies] * factors
        m.body_inertia[self._hand_bodies] = \
            nominal['body_inertia'][self._hand_bodies] * factors[:, None]
        applied['link_mass_scale'] = factors

        factors = scale('actuator_kp_scale', len(self._actuator_ids))
        ids = self._actuator_ids
        m.actuator_gainprm[ids, 0] = nominal['actuator_gainprm'][ids, 0] * factors
        m.actuator_biasprm[ids, 1] = nominal['actuator_biasprm'][ids, 1] * factors
        applied['actuator_kp_scale'] = factors

        factors = scale('joint_damping_scale', len(self._hand_dofs))
        m.dof_damping[self._hand_dofs] = nominal['dof_damping'][self._hand_dofs] * factors
        applied['joint_damping_scale'] = factors

        offsets, angles = {}, {}
        for name, cam_id in self._camera_ids.items():
            jitter = ranges['camera_position_jitter']
            offset = rng.uniform(-jitter, jitter, size=3)
            m.cam_pos[cam_id] = nominal['cam_pos'][cam_id] + offset
            angle, turn = _random_rotation(rng, ranges['camera_rotation_jitter'])
            m.cam_quat[cam_id] = quat_normalize(quat_multiply(turn, nominal['cam_quat'][cam_id]))
            offsets[name], angles[name] = offset, angle
        applied['camera_position_offset'] = offsets
        applied['camera_rotation_angle'] = angles

        if m.nlight:
            factors = scale('light_diffuse_scale', m.nlight)
            m.light_diffuse[:] = np.clip(nominal['light_diffuse'] * factors[:, None], 0.0, 1.0)
            applied['light_diffuse_scale'] = factors
            jitter = ranges['light_position_jitter']
            offsets = rng.uniform(-jitter, jitter, size=(m.nlight, 3))
            m.light_pos[:] = nominal['light_pos'] + offsets
            applied['light_position_offset'] = offsets
            tilts = []
            for i in range(m.nlight):
                angle, turn = _random_rotation(rng, ranges['light_direction_jitter'])
                m.light_dir[i] = _rotate(turn, nominal['light_dir'][i])
                tilts.append(angle)
            applied['light_direction_angle'] = np.array(tilts)
        self._refresh_constants()
        return applied

    def restore_nominal(self):
        """Undo randomize(): put every randomized parameter back to the nominal model's."""
        self._restore_arrays()
        self._refresh_constants()

    def _restore_arrays(self):
        for name, value in self._nominal.items():
            getattr(self.model, name)[:] = value

    def _refresh_constants(self):
        # Masses changed: recompute the model's derived constants (subtree masses, inverse
        # weights used by the constraint solver). mj_setConst works on data at qpos0, so keep
        # the state around it.
        d = self.data
        state = (d.time, d.qpos.copy(), d.qvel.copy(), d.act.copy(), d.ctrl.copy(),
                 d.qacc_warmstart.copy())
        mujoco.mj_setConst(self.model, d)
        d.time = state[0]
        d.qpos[:], d.qvel[:], d.act[:], d.ctrl[:], d.qacc_warmstart[:] = state[1:]
        mujoco.mj_forward(self.model, d)
        self._kinematics_stale = False

    def _ranges(self, overrides: dict) -> dict:
        ranges = dict(self.scene.randomization)
        for key, value in overrides.items():
            if key in RANDOMIZATION_SCALES:
                pair = (value, value) if np.isscalar(value) else tuple(value)
                if len(pair) != 2 or not all(math.isfinite(v) for v in pair) \
                        or not 0 < pair[0] <= pair[1]:
                    raise ValueError(f'randomize: {key} needs 0 < low <= high, got {value!r}')
                ranges[key] = (float(pair[0]), float(pair[1]))
            elif key in RANDOMIZATION_JITTERS:
                if not np.isscalar(value) or not math.isfinite(value) or value < 0:
                    raise ValueError(f'randomize: {key} must be a number >= 0, got {value!r}')
                ranges[key] = float(value)
            else:
                raise ValueError(f'randomize: unknown parameter {key!r}; known: '
                                 f'{", ".join(RANDOMIZATION_SCALES + RANDOMIZATION_JITTERS)}')
        return ranges

    @property
    def nominal(self) -> dict:
        """Return copies of the nominal model arrays that randomize() changes."""
        return {name: value.copy() for name, value in self._nominal.items()}

    # ------------------------------------------------------------------ teardown

    def close(self):
        """Free the renderers (GL contexts). The physics stays usable."""
        for renderer in self._renderers.values():
            renderer.close()
        self._renderers.clear()

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        self.close()


def _descends(model, body, ancestor) -> bool:
    while True:
        if body == ancestor:
            return True
        if body == 0:
            return False
        body = model.body_parentid[body]


def _random_rotation(rng, max_angle) -> tuple:
    """Return (angle, wxyz) of a rotation about a uniformly random axis, angle in [0, max]."""
    angle = float(rng.uniform(0.0, max_angle)) if max_angle > 0 else 0.0
    axis = rng.normal(size=3)
    return angle, axis_angle_to_quat(axis / np.linalg.norm(axis), angle)


def _rotate(quat_wxyz, vector) -> np.ndarray:
    result = np.zeros(3)
    mujoco.mju_rotVecQuat(result, np.asarray(vector, float), np.asarray(quat_wxyz, float))
    return result
