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
The hand as a URDF and as TF, generated from its MuJoCo model: no URDF has to exist beforehand.

HandDescription takes a hand profile and the hand's MuJoCo model (inhand.hand_model, the same
one the simulator steps and the policy runner's kinematics use) and gives:

- urdf(): a URDF with a `world` root, a fixed joint to the hand's mount (placed as the scene
  config says), one link per MuJoCo body below it (named by the profile: link_prefix + body
  name), one revolute joint per hinge with the profile's ROS name, limits and speed, a fixed
  link per fingertip site, visuals (meshes written as binary STL files by write_meshes(), boxes,
  spheres, cylinders; a capsule as a cylinder and two spheres) and collisions likewise.
- transforms(positions): parent -> child poses of the movable joints for /tf at the given joint
  positions (MuJoCo forward kinematics, coupled joints following their driver when the caller
  gives only actuated joints), and static_transforms() for /tf_static: what
  robot_state_publisher would publish from the same URDF, for installs without it.

A link's frame is its MuJoCo body frame moved to the joint's anchor (identical for the Shadow
hand, whose anchors are at the body origins). Joint angles are MuJoCo's qpos, as /joint_states
carries them. ROS-free: the hand_description node is the wiring.
"""
from dataclasses import dataclass
import math
import pathlib
import struct
import sys
from xml.sax.saxutils import quoteattr

from inhand.config import ConfigError
from inhand.transforms import quat_to_matrix
import mujoco
import numpy as np

WORLD = 'world'
HINGE = int(mujoco.mjtJoint.mjJNT_HINGE)
VISUAL_GROUPS = (0, 1, 2)          # what MuJoCo's viewer shows by default; higher: collision


@dataclass(frozen=True)
class Joint:
    """One URDF joint: a revolute joint of a hinge, or a fixed one."""

    name: str
    parent: str
    child: str
    kind: str                      # 'revolute' or 'fixed'
    origin: tuple                  # (xyz, wxyz) of the child frame in the parent's, at q = 0
    axis: tuple = (0.0, 0.0, 1.0)
    lower: float = 0.0
    upper: float = 0.0
    velocity: float = 0.0
    effort: float = 0.0
    qpos_address: int = -1


def _quat_to_rpy(wxyz) -> tuple:
    """
    Return the fixed-axis roll, pitch, yaw (as URDF wants) of a unit quaternion (wxyz).

    Read off the rotation matrix R = Rz(yaw) Ry(pitch) Rx(roll). At pitch = +-90 degrees
    (frames turned by right angles, common in hand models such as LEAP's) roll and yaw are
    one degree of freedom: yaw is set to 0 and roll carries the rotation, where the textbook
    quaternion formulas divide noise by noise.
    """
    r = quat_to_matrix(wxyz)
    cos_pitch = math.hypot(r[0, 0], r[1, 0])
    pitch = math.atan2(-r[2, 0], cos_pitch)
    if cos_pitch > 1e-9:
        return math.atan2(r[2, 1], r[2, 2]), pitch, math.atan2(r[1, 0], r[0, 0])
    return math.atan2(-r[1, 2], r[1, 1]), pitch, 0.0


def _relative(parent_pos, parent_quat, child_pos, child_quat):
    """Pose of the child frame in the parent frame (positions, wxyz quaternions in world)."""
    inverse = np.zeros(4)
    mujoco.mju_negQuat(inverse, parent_quat)
    offset = np.zeros(3)
    mujoco.mju_rotVecQuat(offset, child_pos - parent_pos, inverse)
    quat = np.zeros(4)
    mujoco.mju_mulQuat(quat, inverse, child_quat)
    return offset, quat / np.linalg.norm(quat)


def _origin_xml(pos, wxyz) -> str:
    xyz = ' '.join(f'{v:.9g}' for v in pos)
    rpy = ' '.join(f'{v:.9g}' for v in _quat_to_rpy(wxyz))
    return f'<origin xyz="{xyz}" rpy="{rpy}"/>'


class HandDescription:
    """URDF and TF of one hand model; see the module doc."""

    def __init__(self, profile, model: mujoco.MjModel, mesh_dir=None):
        self.profile = profile
        self.model = model
        self.mesh_dir = pathlib.Path(mesh_dir) if mesh_dir else None
        self.data = mujoco.MjData(model)
        name2id = mujoco.mj_name2id
        mount = name2id(model, mujoco.mjtObj.mjOBJ_BODY, profile.mount_body)
        if mount < 0:
            raise ConfigError(f'{profile.name}: mount body {profile.mount_body!r} is not in the '
                              'model')
        self.ros_joint = dict(zip(profile.mujoco_joints, profile.joint_names))
        index = {n: i for i, n in enumerate(profile.joint_names)}
        # The bodies of the hand: the mount and everything below it, parents first.
        bodies = [mount]
        for b in range(model.nbody):
            if b not in bodies and model.body_parentid[b] in bodies:
                bodies.append(b)
        self.bodies = bodies
        self.link_of = {b: self._link_name(b) for b in bodies}
        if len(set(self.link_of.values())) != len(bodies):
            raise ConfigError(f'{profile.name}: two bodies give the same link name')
        self.anchor = {}
        self.joint_of_body = {}
        for b in bodies:
            joints = [j for j in range(model.njnt) if model.jnt_bodyid[j] == b]
            if len(joints) > 1 or (joints and model.jnt_type[joints[0]] != HINGE):
                raise ConfigError(f'{profile.name}: body {model.body(b).name!r} has joints '
                                  'other than one hinge; a URDF link cannot describe it')
            self.anchor[b] = model.jnt_pos[joints[0]].copy() if joints else np.zeros(3)
            if joints:
                self.joint_of_body[b] = joints[0]
        # Link frames in world at q = 0 (MuJoCo's qpos = 0 is the URDF's zero angle).
        self.data.qpos[:] = 0.0
        mujoco.mj_kinematics(model, self.data)
        frames = {b: self._link_frame(b) for b in bodies}
        self.joints = [Joint(f'{WORLD}_to_{self.link_of[mount]}', WORLD, self.link_of[mount],
                             'fixed', frames[mount])]
        for b in bodies[1:]:
            parent = model.body_parentid[b]
            origin = _relative(*frames[parent], *frames[b])
            name = f'{self.link_of[parent]}_to_{self.link_of[b]}'
            if b not in self.joint_of_body:
                self.joints.append(Joint(name, self.link_of[parent], self.link_of[b], 'fixed',
                                         origin))
                continue
            j = self.joint_of_body[b]
            mj_name = model.joint(j).name
            if mj_name not in self.ros_joint:
                raise ConfigError(f'{profile.name}: MuJoCo joint {mj_name!r} is not in the '
                                  'hand profile')
            ros = self.ros_joint[mj_name]
            k = index[ros]
            axis = model.jnt_axis[j] / np.linalg.norm(model.jnt_axis[j])
            effort = 0.0
            actuator = profile.actuators[k]
            if actuator:
                a = mujoco.mj_name2id(model, mujoco.mjtObj.mjOBJ_ACTUATOR, actuator)
                if a >= 0 and model.actuator_forcelimited[a]:
                    effort = float(np.max(np.abs(model.actuator_forcerange[a])))
                elif a >= 0:
                    # A position servo without a force limit (LEAP's model): the most it
                    # pushes across its control range, gain x span.
                    low, high = (model.actuator_ctrlrange[a] if model.actuator_ctrllimited[a]
                                 else (profile.lower[k], profile.upper[k]))
                    effort = float(abs(model.actuator_gainprm[a][0] * model.actuator_gear[a][0])
                                   * (high - low))
            self.joints.append(Joint(
                ros, self.link_of[parent], self.link_of[b], 'revolute', origin,
                tuple(float(v) for v in axis), float(profile.lower[k]), float(profile.upper[k]),
                float(profile.max_velocity[k]), effort, int(model.jnt_qposadr[j])))
        # Fingertip sites: fixed links, so rviz and TF show them.
        self.tips = []
        for tip in profile.fingertips:
            s = mujoco.mj_name2id(model, mujoco.mjtObj.mjOBJ_SITE, tip.site)
            if s < 0:
                raise ConfigError(f'{profile.name}: fingertip site {tip.site!r} is not in the '
                                  'model')
            b = int(model.site_bodyid[s])
            origin = (model.site_pos[s] - self.anchor[b], model.site_quat[s].copy())
            self.tips.append(Joint(f'{self.link_of[b]}_to_{tip.frame}', self.link_of[b],
                                   tip.frame, 'fixed', origin))
        self.movable = [j for j in self.joints if j.kind == 'revolute']
        body_of = {self.link_of[b]: b for b in bodies}
        self._movable_bodies = [(body_of[j.child], model.body_parentid[body_of[j.child]])
                                for j in self.movable]
        self._qpos_of = {j.name: j.qpos_address for j in self.movable}
        self._driver = {n: d for n, d in zip(profile.joint_names, profile.coupled_to) if d}

    def _link_name(self, body: int) -> str:
        name = self.model.body(body).name
        if name == self.profile.palm_body:
            return self.profile.palm_frame
        prefix = self.profile.mujoco_prefix
        if prefix and name.startswith(prefix):
            name = name[len(prefix):]
        return self.profile.link_prefix + name.replace(' ', '_').replace(':', '_')

    def _link_frame(self, body: int):
        """World pose (pos, wxyz) of a body's link frame (at its joint anchor) in self.data."""
        rotation = self.data.xmat[body].reshape(3, 3)
        return (self.data.xpos[body] + rotation @ self.anchor[body],
                self.data.xquat[body].copy())

    @property
    def links(self) -> list:
        return [WORLD] + [self.link_of[b] for b in self.bodies] + [t.child for t in self.tips]

    # ------------------------------------------------------------------ URDF

    def write_meshes(self, mesh_dir=None) -> dict:
        """Write every mesh a hand geom uses as binary STL; return {mesh id: path}."""
        folder = pathlib.Path(mesh_dir or self.mesh_dir or '.')
        folder.mkdir(parents=True, exist_ok=True)
        model, paths = self.model, {}
        used = {int(model.geom_dataid[g]) for g in range(model.ngeom)
                if model.geom_type[g] == mujoco.mjtGeom.mjGEOM_MESH
                and model.geom_bodyid[g] in self.link_of}
        for mesh in sorted(used):
            v0, nv = model.mesh_vertadr[mesh], model.mesh_vertnum[mesh]
            f0, nf = model.mesh_faceadr[mesh], model.mesh_facenum[mesh]
            vertices = model.mesh_vert[v0:v0 + nv].astype(np.float32)
            faces = model.mesh_face[f0:f0 + nf]
            name = model.mesh(mesh).name.replace(':', '_').replace(' ', '_') or f'mesh{mesh}'
            path = folder / f'{name}.stl'
            _write_stl(path, vertices, faces)
            paths[mesh] = path
        self.mesh_paths = paths
        return paths

    def urdf(self) -> str:
        """Return the URDF text (call write_meshes() first for mesh visuals)."""
        meshes = getattr(self, 'mesh_paths', None)
        if meshes is None:
            meshes = self.write_meshes() if self.mesh_dir else {}
        lines = ['<?xml version="1.0"?>',
                 f'<!-- generated by inhand (hand_control.description) from the MuJoCo model '
                 f'of the hand profile {self.profile.name}: edit the profile, not this -->',
                 f'<robot name={quoteattr(self.profile.name)}>',
                 f'  <link name="{WORLD}"/>']
        for b in self.bodies:
            lines.append(f'  <link name={quoteattr(self.link_of[b])}>')
            lines += self._geoms_xml(b, meshes)
            lines.append('  </link>')
        for tip in self.tips:
            lines.append(f'  <link name={quoteattr(tip.child)}/>')
        for joint in self.joints + self.tips:
            lines.append(f'  <joint name={quoteattr(joint.name)} type="{joint.kind}">')
            lines.append(f'    <parent link={quoteattr(joint.parent)}/>')
            lines.append(f'    <child link={quoteattr(joint.child)}/>')
            lines.append('    ' + _origin_xml(*joint.origin))
            if joint.kind == 'revolute':
                lines.append('    <axis xyz="' + ' '.join(f'{v:.9g}' for v in joint.axis)
                             + '"/>')
                lines.append(f'    <limit lower="{joint.lower:.9g}" upper="{joint.upper:.9g}" '
                             f'velocity="{joint.velocity:.9g}" effort="{joint.effort:.9g}"/>')
            lines.append('  </joint>')
        lines.append('</robot>')
        return '\n'.join(lines) + '\n'

    def _geoms_xml(self, body: int, meshes: dict) -> list:
        model, out = self.model, []
        for g in range(model.ngeom):
            if model.geom_bodyid[g] != body:
                continue
            visual = model.geom_group[g] in VISUAL_GROUPS
            shapes = self._shapes(g, meshes)
            if not shapes:
                continue
            tag = 'visual' if visual else 'collision'
            rgba = model.geom_rgba[g]
            if model.geom_matid[g] >= 0:
                rgba = model.mat_rgba[model.geom_matid[g]]
            for pos, quat, geometry in shapes:
                out.append(f'    <{tag}>')
                out.append('      ' + _origin_xml(pos - self.anchor[body], quat))
                out.append(f'      <geometry>{geometry}</geometry>')
                if visual:
                    colour = ' '.join(f'{v:.3g}' for v in rgba)
                    out.append(f'      <material name="inhand_geom_{g}"><color rgba="{colour}"/>'
                               '</material>')
                out.append(f'    </{tag}>')
        return out

    def _shapes(self, g: int, meshes: dict) -> list:
        """(pos, wxyz, geometry xml) in the body frame for geom g; a capsule gives three."""
        model = self.model
        kind, size = model.geom_type[g], model.geom_size[g]
        pos, quat = model.geom_pos[g].copy(), model.geom_quat[g].copy()
        if kind == mujoco.mjtGeom.mjGEOM_MESH:
            path = meshes.get(int(model.geom_dataid[g]))
            return [(pos, quat, f'<mesh filename="file://{path}"/>')] if path else []
        if kind == mujoco.mjtGeom.mjGEOM_BOX:
            full = ' '.join(f'{2 * v:.9g}' for v in size)
            return [(pos, quat, f'<box size="{full}"/>')]
        if kind in (mujoco.mjtGeom.mjGEOM_SPHERE, mujoco.mjtGeom.mjGEOM_ELLIPSOID):
            return [(pos, quat, f'<sphere radius="{size[0]:.9g}"/>')]
        if kind in (mujoco.mjtGeom.mjGEOM_CYLINDER, mujoco.mjtGeom.mjGEOM_CAPSULE):
            shapes = [(pos, quat,
                       f'<cylinder radius="{size[0]:.9g}" length="{2 * size[1]:.9g}"/>')]
            if kind == mujoco.mjtGeom.mjGEOM_CAPSULE:      # URDF has no capsule: add its caps
                axis = np.zeros(3)
                mujoco.mju_rotVecQuat(axis, np.array([0.0, 0.0, size[1]]), quat)
                for sign in (1.0, -1.0):
                    shapes.append((pos + sign * axis, quat,
                                   f'<sphere radius="{size[0]:.9g}"/>'))
            return shapes
        return []                  # planes, height fields: nothing a hand link needs

    def visual_meshes(self) -> dict:
        """
        Map link -> [(vertices (n, 3) in the link frame, faces (m, 3), rgba)] of its visuals.

        For viewers that take triangle meshes (the Rerun viewer): mesh geoms as MuJoCo draws
        them, boxes as 12 triangles; other primitive visuals are left out.
        """
        model, out = self.model, {}
        for g in range(model.ngeom):
            body = int(model.geom_bodyid[g])
            if body not in self.link_of or model.geom_group[g] not in VISUAL_GROUPS:
                continue
            kind = model.geom_type[g]
            if kind == mujoco.mjtGeom.mjGEOM_MESH:
                mesh = int(model.geom_dataid[g])
                v0, nv = model.mesh_vertadr[mesh], model.mesh_vertnum[mesh]
                f0, nf = model.mesh_faceadr[mesh], model.mesh_facenum[mesh]
                vertices, faces = model.mesh_vert[v0:v0 + nv], model.mesh_face[f0:f0 + nf]
            elif kind == mujoco.mjtGeom.mjGEOM_BOX:
                vertices, faces = _box_mesh(model.geom_size[g])
            else:
                continue
            rotation = np.zeros(9)
            mujoco.mju_quat2Mat(rotation, model.geom_quat[g])
            placed = (np.asarray(vertices, float) @ rotation.reshape(3, 3).T
                      + model.geom_pos[g] - self.anchor[body])
            rgba = model.mat_rgba[model.geom_matid[g]] if model.geom_matid[g] >= 0 \
                else model.geom_rgba[g]
            out.setdefault(self.link_of[body], []).append(
                (placed, np.asarray(faces, dtype=np.int32), np.asarray(rgba, float)))
        return out

    # ------------------------------------------------------------------ TF

    def static_transforms(self) -> list:
        """(parent, child, pos, wxyz) of every fixed joint: what goes to /tf_static."""
        return [(j.parent, j.child, np.asarray(j.origin[0], float), np.asarray(j.origin[1]))
                for j in self.joints + self.tips if j.kind == 'fixed']

    def transforms(self, positions: dict) -> list:
        """
        (parent, child, pos, wxyz) of every movable joint at the given joint positions.

        positions maps ROS joint names to angles; a joint left out keeps its last value (0 at
        first), a coupled joint left out follows its driver. Raises ValueError for a name that
        is not a joint of the hand or a non-finite angle.
        """
        qpos = self.data.qpos
        for name, value in positions.items():
            if name not in self._qpos_of:
                raise ValueError(f'{name!r} is not a joint of {self.profile.name}')
            if not math.isfinite(value):
                raise ValueError(f'non-finite position for {name}')
            qpos[self._qpos_of[name]] = value
        for name, driver in self._driver.items():
            if name not in positions and driver in positions:
                qpos[self._qpos_of[name]] = positions[driver]
        mujoco.mj_kinematics(self.model, self.data)
        out = []
        for joint, (child, parent) in zip(self.movable, self._movable_bodies):
            pos, quat = _relative(*self._link_frame(parent), *self._link_frame(child))
            out.append((joint.parent, joint.child, pos, quat))
        return out

    def link_poses(self, positions: dict) -> dict:
        """World pose (pos, wxyz) of every body link at the given positions (for tests)."""
        self.transforms(positions)
        return {self.link_of[b]: self._link_frame(b) for b in self.bodies}


def _box_mesh(half_sizes) -> tuple:
    """Return (8 corners, 12 outward-wound triangles) of a box with these half sizes."""
    corners = np.array([[x, y, z] for x in (-1, 1) for y in (-1, 1) for z in (-1, 1)],
                       dtype=float) * np.asarray(half_sizes, float)
    faces = np.array([[0, 1, 3], [0, 3, 2], [4, 6, 7], [4, 7, 5], [0, 4, 5], [0, 5, 1],
                      [2, 3, 7], [2, 7, 6], [0, 2, 6], [0, 6, 4], [1, 5, 7], [1, 7, 3]])
    return corners, faces


DEFAULT_MESH_DIR = '~/.cache/inhand/meshes'


def hand_urdf(hand='shadow', scene='sim/scene.yaml', mesh_dir=DEFAULT_MESH_DIR) -> str:
    """
    Return the URDF of a hand profile mounted as the scene config says; write its meshes.

    The meshes go to mesh_dir/<profile name>/ (the URDF names them there); what
    robot_state_publisher, or any other URDF tool, is given on a ROS install.
    """
    from hand_control.hand_profile import load_hand_profile
    from inhand.hand_model import build_model, load_scene_config
    profile = load_hand_profile(hand)
    description = HandDescription(profile, build_model(profile, load_scene_config(scene)),
                                  mesh_dir=pathlib.Path(mesh_dir).expanduser() / profile.name)
    description.write_meshes()
    return description.urdf()


def main(argv=None) -> int:
    """Write the URDF of a hand profile: python -m hand_control.description --out hand.urdf."""
    import argparse
    parser = argparse.ArgumentParser(description=main.__doc__)
    parser.add_argument('--hand', default='shadow', help='hand profile name or path')
    parser.add_argument('--scene', default='sim/scene.yaml', help='scene config (the mount)')
    parser.add_argument('--mesh-dir', default=DEFAULT_MESH_DIR,
                        help='meshes go to <mesh-dir>/<profile name>/')
    parser.add_argument('--out', required=True, help='URDF file to write')
    options = parser.parse_args(argv)
    try:
        text = hand_urdf(options.hand, options.scene, options.mesh_dir)
    except (ConfigError, OSError) as exc:
        print(f'error: {exc}', file=sys.stderr)
        return 2
    pathlib.Path(options.out).write_text(text)
    print(f'wrote {options.out} ({text.count("<joint ")} joints, '
          f'{text.count("<link ")} links)')
    return 0


def _write_stl(path: pathlib.Path, vertices: np.ndarray, faces: np.ndarray):
    """Write a binary STL (what rviz's mesh loader reads), atomically."""
    triangles = vertices[faces]                                   # (n, 3, 3)
    normals = np.cross(triangles[:, 1] - triangles[:, 0], triangles[:, 2] - triangles[:, 0])
    lengths = np.linalg.norm(normals, axis=1, keepdims=True)
    normals = np.divide(normals, lengths, out=np.zeros_like(normals), where=lengths > 0)
    records = np.zeros(len(faces), dtype=[('normal', '<f4', 3), ('vertices', '<f4', (3, 3)),
                                          ('attribute', '<u2')])
    records['normal'] = normals
    records['vertices'] = triangles
    temporary = path.with_suffix('.stl.tmp')
    with open(temporary, 'wb') as f:
        f.write(b'inhand hand mesh'.ljust(80, b' '))
        f.write(struct.pack('<I', len(faces)))
        f.write(records.tobytes())
    temporary.replace(path)


if __name__ == '__main__':
    sys.exit(main())
