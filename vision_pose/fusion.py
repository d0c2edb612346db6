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
Multi-camera cube pose: per-camera PnP hypotheses, joint refinement, outliers, covariance.

Everything here is NumPy/OpenCV maths on marker corner observations; no images, no ROS.

Pose parameterisation: the cube pose in the world is (R, t) with p_world = R @ p_cube + t. Steps
are left perturbations in the world frame, R <- exp([w]x) R, t <- t + dt, so the 6x6 covariance
of (dt, w) is exactly what geometry_msgs/PoseWithCovariance means: position in metres, then
rotation in radians about the fixed world axes x, y, z.

The joint refinement minimises the reprojection error of every marker corner in every camera
at once (Levenberg-Marquardt with Huber weights), starting from the best hypothesis among the
per-camera PnP solutions (scored on ALL observations, so a camera with a flipped planar
solution cannot win). Whole marker sightings whose residual stays large are rejected and the
fit repeated. The covariance is sigma^2 (J^T W J)^-1 with sigma^2 the residuals' variance plus
a floor, inflated when the data are thin or inconsistent, plus the calibration floors.
"""
from dataclasses import dataclass, field

import cv2
import numpy as np


@dataclass
class FusionConfig:
    """Tunables of the joint fit and its covariance."""

    huber_px: float = 1.5              # residuals beyond this are down-weighted (IRLS)
    marker_gate_px: float = 3.0        # reject a marker sighting whose RMS exceeds this ...
    marker_gate_sigma: float = 5.0     # ... and this many robust sigmas
    hypothesis_cap_px: float = 20.0    # truncation of the hypothesis score
    consensus_gate_px: float = 8.0     # a hypothesis "explains" sightings closer than this
    max_rms_px: float = 2.5            # a final fit worse than this is not a pose
    sigma_floor_px: float = 0.25       # corner noise, added in quadrature to the measured
    covariance_scale: float = 1.2      # model errors (blur, aliasing, calibration) on top
    position_sigma_floor: float = 0.0002   # m, additive (extrinsic calibration error)
    rotation_sigma_floor: float = 0.002    # rad, additive
    rejection_inflation: float = 4.0   # covariance x this when sightings were rejected
    single_camera_inflation: float = 1.5
    ambiguity_ratio: float = 1.5       # planar flip: runner-up cost within this factor ...
    ambiguity_chi2: float = 22.46      # ... or within this x sigma^2 (chi2 0.999, 6 dof)
    ambiguity_tilts_deg: tuple = (4.0, 8.0, 12.0, 16.0, 20.0, 25.0, 30.0, 40.0)
    ambiguity_min_deg: float = 2.0     # a runner-up closer than this is the same pose
    max_view_angle_deg: float = 80.0   # sightings more grazing than this are not used
    max_iterations: int = 15

    def validate(self):
        for name in ('huber_px', 'marker_gate_px', 'marker_gate_sigma', 'hypothesis_cap_px',
                     'consensus_gate_px', 'max_rms_px', 'sigma_floor_px', 'covariance_scale',
                     'ambiguity_chi2', 'ambiguity_min_deg'):
            if not getattr(self, name) > 0:
                raise ValueError(f'fusion.{name} must be > 0, got {getattr(self, name)!r}')
        for name in ('position_sigma_floor', 'rotation_sigma_floor'):
            if not getattr(self, name) >= 0:
                raise ValueError(f'fusion.{name} must be >= 0')
        for name in ('rejection_inflation', 'single_camera_inflation', 'ambiguity_ratio'):
            if not getattr(self, name) >= 1:
                raise ValueError(f'fusion.{name} must be >= 1')
        if not 0 < self.max_view_angle_deg <= 90:
            raise ValueError('fusion.max_view_angle_deg must be in (0, 90]')
        if self.max_iterations < 1:
            raise ValueError('fusion.max_iterations must be >= 1')
        return self


@dataclass
class View:
    """One camera's geometry for the fit: ideal pinhole K and the world->optical transform."""

    name: str
    K: np.ndarray
    R_cw: np.ndarray
    t_cw: np.ndarray


@dataclass
class Sighting:
    """One marker seen by one camera: 4 cube-frame corners and their ideal pixel positions."""

    view: int
    marker_id: int
    object_points: np.ndarray    # (4, 3) cube frame
    pixels: np.ndarray           # (4, 2) undistorted pixels


@dataclass
class Hypothesis:
    """A candidate cube pose in the world and where it came from."""

    R: np.ndarray
    t: np.ndarray
    source: str


@dataclass
class FusionResult:
    """The fused pose, its covariance and the bookkeeping the node reports."""

    R: np.ndarray
    t: np.ndarray
    covariance: np.ndarray           # 6x6, (x, y, z, rot_x, rot_y, rot_z), world frame
    rms_px: float
    sigma_px: float
    used: list                       # indices of sightings in the final fit
    rejected: list                   # indices rejected as outliers
    ignored: list                    # indices not used: seen too obliquely to be accurate
    views_used: list                 # indices of views that contributed
    ambiguous: bool = False
    notes: list = field(default_factory=list)


def rotation_exp(w) -> np.ndarray:
    """Rotation matrix exp([w]x) of a rotation vector (Rodrigues)."""
    R, _ = cv2.Rodrigues(np.asarray(w, dtype=np.float64).reshape(3, 1))
    return R


def rotation_log(R) -> np.ndarray:
    """Rotation vector of a rotation matrix."""
    w, _ = cv2.Rodrigues(np.asarray(R, dtype=np.float64))
    return w.ravel()


class _Problem:
    """Stacked observations of all sightings, for vectorised residuals and Jacobians."""

    def __init__(self, views, sightings, indices):
        self.indices = list(indices)
        chosen = [sightings[i] for i in self.indices]
        self.X = np.concatenate([s.object_points for s in chosen]).reshape(-1, 3)
        self.uv = np.concatenate([s.pixels for s in chosen]).reshape(-1, 2)
        view_of_point = np.repeat([s.view for s in chosen], 4)
        self.view_of_point = view_of_point
        # Per point, the world -> pixel map in homogeneous form: pixel ~ P p_world + q, with
        # P = K R_cw and q = K t_cw (K's last row is 0 0 1, so the third row gives the depth).
        self.P = np.stack([views[v].K @ views[v].R_cw for v in view_of_point])
        self.q = np.stack([views[v].K @ views[v].t_cw for v in view_of_point])

    def subset(self, positions) -> '_Problem':
        """Return the problem restricted to the sightings at these positions of self.indices."""
        points = (4 * np.asarray(positions, dtype=int)[:, None] + np.arange(4)).ravel()
        sub = object.__new__(_Problem)
        sub.indices = [self.indices[k] for k in positions]
        for name in ('X', 'uv', 'view_of_point', 'P', 'q'):
            setattr(sub, name, getattr(self, name)[points])
        return sub

    def linearize(self, R, t, jacobian=True):
        """
        Return (residuals (N, 2) px, depths (N,), Jacobian (2N, 6) or None).

        The Jacobian is d residual / d (dt, w) for p_world = exp([w]x) R X + t + dt. With
        h = P p_world + q and pixel = h[:2] / h[2]: d pixel / d p_world = (P[:2] - pixel P[2])
        / h[2], and d p_world / d w = -[R X]x, so each row a of the position block gives the
        rotation row (R X) x a.
        """
        rotated = self.X @ R.T
        h = np.matmul(self.P, (rotated + t)[:, :, None])[:, :, 0] + self.q
        z = h[:, 2]
        inv_z = 1.0 / np.maximum(z, 1e-6)
        pixels = h[:, :2] * inv_z[:, None]
        res = pixels - self.uv
        if not jacobian:
            return res, z, None
        j_t = self.P[:, :2, :] - pixels[:, :, None] * self.P[:, None, 2, :]
        j_t *= inv_z[:, None, None]
        v = rotated[:, None, :]
        j_w = np.empty_like(j_t)
        j_w[..., 0] = v[..., 1] * j_t[..., 2] - v[..., 2] * j_t[..., 1]
        j_w[..., 1] = v[..., 2] * j_t[..., 0] - v[..., 0] * j_t[..., 2]
        j_w[..., 2] = v[..., 0] * j_t[..., 1] - v[..., 1] * j_t[..., 0]
        return res, z, np.concatenate([j_t, j_w], axis=2).reshape(-1, 6)

    def residuals(self, R, t):
        """Return the pixel errors, shape (N, 2), and the depths, shape (N,)."""
        res, z, _ = self.linearize(R, t, jacobian=False)
        return res, z

    def jacobian(self, R, t):
        """Return d residual / d (dt, w) as (2N, 6)."""
        return self.linearize(R, t)[2]


def _huber_weights(norms, delta):
    return np.where(norms <= delta, 1.0, delta / np.maximum(norms, 1e-12))


def refine(problem: _Problem, R, t, config: FusionConfig):
    """Levenberg-Marquardt with Huber IRLS; return (R, t, residuals, weights)."""
    lam = 1e-4
    # Each trial pose is linearised with its Jacobian: near the optimum almost every trial is
    # accepted, and its Jacobian is the next iteration's (one linearisation per iteration).
    res, _, J = problem.linearize(R, t)
    for _ in range(config.max_iterations):
        weights = _huber_weights(np.linalg.norm(res, axis=1), config.huber_px)
        w2 = np.repeat(weights, 2)
        Jw = J * w2[:, None]
        H = J.T @ Jw
        g = Jw.T @ res.ravel()
        cost = float(w2 @ res.ravel() ** 2)
        damping = np.diag(np.diag(H) + 1e-12)
        accepted = False
        for _ in range(6):
            step = np.linalg.solve(H + lam * damping, -g)
            R_new = rotation_exp(step[3:]) @ R
            t_new = t + step[:3]
            res_new, z_new, J_new = problem.linearize(R_new, t_new)
            if float(w2 @ res_new.ravel() ** 2) <= cost and np.all(z_new > 0):
                R, t, res, J = R_new, t_new, res_new, J_new
                lam = max(lam / 10.0, 1e-9)
                accepted = True
                break
            lam *= 10.0
        # Converged when the step is far below anything the images can resolve.
        if not accepted or np.abs(step[:3]).max() < 1e-6 and np.abs(step[3:]).max() < 1e-5:
            break
    # Orthonormalise to keep numerical drift out of the published quaternion.
    u, _, vt = np.linalg.svd(R)
    R = u @ vt
    res, _, _ = problem.linearize(R, t, jacobian=False)
    weights = _huber_weights(np.linalg.norm(res, axis=1), config.huber_px)
    return R, t, res, weights


def _per_marker_rms(problem: _Problem, R, t) -> np.ndarray:
    """Return each sighting's corner RMS error (px); inf where a corner is behind a camera."""
    res, z = problem.residuals(R, t)
    rms = np.sqrt(np.mean(np.sum(res ** 2, axis=1).reshape(-1, 4), axis=1))
    return np.where(np.all(z.reshape(-1, 4) > 0, axis=1), rms, np.inf)


def camera_hypotheses(view: View, sightings, indices) -> list:
    """
    Return the world poses that one camera's PnP gives, all its markers as one rigid object.

    Several faces (non-coplanar corners): SQPnP. One face (coplanar): IPPE,
    which returns both solutions of the planar ambiguity; both are kept as hypotheses and the
    joint score over all cameras decides.
    """
    obj = np.concatenate([sightings[i].object_points for i in indices]).astype(np.float64)
    img = np.concatenate([sightings[i].pixels for i in indices]).astype(np.float64)
    centred = obj - obj.mean(axis=0)
    planar = np.linalg.svd(centred, compute_uv=False)[-1] < 1e-6 * max(1.0, len(obj))
    solutions = []
    try:
        if planar:
            count, rvecs, tvecs, _ = cv2.solvePnPGeneric(obj, img, view.K, None,
                                                         flags=cv2.SOLVEPNP_IPPE)
            solutions = list(zip(rvecs[:count], tvecs[:count]))
        else:
            ok, rvec, tvec = cv2.solvePnP(obj, img, view.K, None, flags=cv2.SOLVEPNP_SQPNP)
            if ok:
                solutions = [(rvec, tvec)]
    except cv2.error:
        return []
    hypotheses = []
    R_wc, t_wc = view.R_cw.T, -view.R_cw.T @ view.t_cw
    for rvec, tvec in solutions:
        # No per-camera refinement: the joint fit refines whichever hypothesis wins.
        R_co, _ = cv2.Rodrigues(rvec)
        t_co = tvec.ravel()
        if t_co[2] <= 0 or not np.all(np.isfinite(t_co)):
            continue
        hypotheses.append(Hypothesis(R=R_wc @ R_co, t=R_wc @ t_co + t_wc,
                                     source=f'{view.name}:{"ippe" if planar else "sqpnp"}'))
    return hypotheses


def view_angles(views, sightings, indices, R, t, normals) -> np.ndarray:
    """Angle (rad) between each sighting's marker normal and the ray to the camera."""
    chosen = [sightings[i] for i in indices]
    centres = np.stack([s.object_points.mean(axis=0) for s in chosen]) @ R.T + t
    cameras = np.stack([-views[s.view].R_cw.T @ views[s.view].t_cw for s in chosen])
    rays = cameras - centres
    rays /= np.linalg.norm(rays, axis=1, keepdims=True) + 1e-12
    normals_w = np.stack([normals[i] for i in indices]) @ R.T
    return np.arccos(np.clip(np.sum(rays * normals_w, axis=1), -1.0, 1.0))


def fuse(views, sightings, config: FusionConfig, normals=None, prior: Hypothesis | None = None):
    """Fuse all sightings into one world pose; return FusionResult or (None, reason)."""
    if not sightings:
        return None, 'no markers detected'
    by_view = {}
    for i, s in enumerate(sightings):
        by_view.setdefault(s.view, []).append(i)
    candidates = list(range(len(sightings)))
    problem = _Problem(views, sightings, candidates)

    def cameras_pnp():
        return [h for v, indices in by_view.items()
                for h in camera_hypotheses(views[v], sightings, indices)]

    hypotheses = []
    # Tracking: when the tracked (predicted) pose explains the sightings of two or more
    # cameras, all but at most one, and at least one sighting of every camera, it is the
    # start, and the per-camera PnP waits until a fit from it loses more. One misread marker
    # is common (a corner under a finger); sending every such set through PnP doubled the
    # fit's time. A camera it does not explain at all gets its PnP, as does a single camera
    # (the planar-ambiguity check needs both solutions).
    pnp_done = True
    prior_rms = _per_marker_rms(problem, prior.R, prior.t) if prior is not None else None
    if prior is not None and len(by_view) >= 2:
        explained = prior_rms <= config.consensus_gate_px
        views_explained = {sightings[i].view for i in np.flatnonzero(explained)}
        pnp_done = explained.sum() < len(sightings) - 1 or views_explained != set(by_view)
    if pnp_done:
        hypotheses.extend(cameras_pnp())
    if prior is not None:
        hypotheses.append(prior)
    if not hypotheses:
        return None, 'PnP failed in every camera'
    # Consensus: the hypothesis that explains the most marker sightings (then the lowest
    # truncated cost) wins; a camera with wrong extrinsics or a misread marker explains only
    # itself. Single-camera PnP is a few pixels off in the other cameras at worst, hence the
    # generous consensus gate; the refined fit below gates tightly.
    keys, inlier_masks = [], []
    for hyp in hypotheses:
        per_marker = prior_rms if hyp is prior else _per_marker_rms(problem, hyp.R, hyp.t)
        inliers = per_marker <= config.consensus_gate_px
        inlier_masks.append(inliers)
        keys.append((int(inliers.sum()),
                     -float(np.sum(np.minimum(per_marker, config.hypothesis_cap_px) ** 2))))
    order = sorted(range(len(hypotheses)), key=lambda k: keys[k], reverse=True)
    best, best_inliers = hypotheses[order[0]], inlier_masks[order[0]]
    notes, ignored = [], []
    if normals is not None:
        angles = view_angles(views, sightings, candidates, best.R, best.t, normals)
        grazing = [i for i, a in zip(candidates, angles)
                   if a > np.radians(config.max_view_angle_deg)]
        if grazing and len(grazing) < len(candidates):
            ignored = grazing
    usable = [i for i in candidates if i not in ignored]
    everything = problem
    usable_problem = everything.subset(usable)

    ended = []      # (R, t, active) where earlier fits came to rest

    def fit(R, t, active):
        """
        Refine on active, re-gate every usable sighting, repeat until stable.

        Returns None as soon as the fit reaches the pose and sightings where an earlier fit
        ended: from there it can only end the same way.
        """
        for _ in range(4):
            problem = everything.subset(active)
            R, t, res, weights = refine(problem, R, t, config)
            norms = np.sort(np.linalg.norm(res, axis=1))
            robust_sigma = 1.4826 * float(norms[len(norms) // 2]) / np.sqrt(2)
            # Noisy images widen the gate, up to twice its floor: a fit that is bad all
            # over must not widen it enough to admit everything.
            gate = float(np.clip(config.marker_gate_sigma * robust_sigma,
                                 config.marker_gate_px, 2.0 * config.marker_gate_px))
            per_marker = _per_marker_rms(usable_problem, R, t)
            admitted = [i for i, rms in zip(usable, per_marker) if rms <= gate]
            if any(admitted == a and _near(R, t, R_end, t_end) for R_end, t_end, a in ended):
                return None
            if admitted == active or not admitted:
                break
            active = admitted
        else:
            problem = everything.subset(active)
            R, t, res, weights = refine(problem, R, t, config)
        ended.append((R, t, active))
        mse = float(np.mean(np.sum(res ** 2, axis=1)))
        return (mse <= config.max_rms_px ** 2, len(active), -mse), \
            (R, t, res, weights, active, problem)

    # Start from the consensus winner and its inliers. If that leaves sightings out, also try
    # the joint fit of everything from the same start (single-marker PnP can be too far off
    # to gate other cameras in, although they all agree) and the other cameras' hypotheses;
    # the fit that keeps the most sightings wins.
    starts = [(best, [i for i in usable if best_inliers[i]] or usable[:1]), (best, usable)]
    starts += [(hypotheses[k], [i for i in usable if inlier_masks[k][i]] or usable[:1])
               for k in order[1:4]]
    outcome, tried = None, []

    def run(starts):
        nonlocal outcome
        for hyp, active in starts:
            if any(active == a and _near(hyp.R, hyp.t, R, t) for R, t, a in tried):
                continue        # the same start again
            tried.append((hyp.R, hyp.t, active))
            attempt = fit(hyp.R, hyp.t, active)
            if attempt is not None and (outcome is None or attempt[0] > outcome[0]):
                outcome = attempt
            if outcome[0][:2] == (True, len(usable)):
                return

    run(starts)
    valid, kept = outcome[0][:2]
    kept_views = {sightings[i].view for i in outcome[1][4]}
    if not pnp_done and not (valid and kept >= len(usable) - 1
                             and kept_views == {sightings[i].view for i in usable}):
        # The fit from the tracked pose lost more than one sighting, or a whole camera: try
        # the cameras' own PnP too, where it lies away from the fit (near it, a start only
        # finds the same fit again).
        R_fit, t_fit = outcome[1][:2]
        extra = [h for h in cameras_pnp()
                 if not _near(h.R, h.t, R_fit, t_fit, degrees=3.0, metres=0.005)]
        order += range(len(hypotheses), len(hypotheses) + len(extra))
        hypotheses += extra
        run([(h, [i for i, rms in zip(usable, _per_marker_rms(usable_problem, h.R, h.t))
                  if rms <= config.consensus_gate_px] or usable[:1]) for h in extra])
    R, t, res, weights, active, problem = outcome[1]
    rejected = [i for i in usable if i not in active]
    views_used = sorted({sightings[i].view for i in active})
    if rejected:
        rejected_views = {sightings[i].view for i in rejected} - set(views_used)
        for i in rejected:
            notes.append(f'rejected marker {sightings[i].marker_id} in '
                         f'{views[sightings[i].view].name}')
        if rejected_views and len(rejected_views) >= len(views_used):
            names = ', '.join(views[v].name for v in sorted(rejected_views | set(views_used)))
            return None, f'cameras disagree ({names}): no majority'
        if len(rejected) > len(active):
            return None, (f'markers disagree: {len(rejected)} of '
                          f'{len(rejected) + len(active)} sightings do not fit one pose')

    rms = float(np.sqrt(np.mean(np.sum(res ** 2, axis=1))))
    if rms > config.max_rms_px:
        return None, f'inconsistent: reprojection RMS {rms:.2f} px > {config.max_rms_px} px'

    covariance, sigma = _covariance(problem, R, t, res, weights, config)
    if rejected:
        covariance *= config.rejection_inflation
    if len(views_used) == 1:
        covariance *= config.single_camera_inflation
    ambiguous = False
    object_points = np.concatenate([sightings[i].object_points for i in active])
    centred = object_points - object_points.mean(axis=0)
    planar = np.linalg.svd(centred, compute_uv=False)[-1] < 1e-6 * max(1.0, len(centred))
    if planar and len(views_used) == 1:
        runner_up = _planar_runner_up(problem, views[views_used[0]], object_points, R, t, res,
                                      sigma, [hypotheses[k] for k in order], config)
        if runner_up is not None:
            ambiguous = True
            notes.append('planar ambiguity: two poses fit one face')
            # Either branch may be the truth: the spread between them plus either's own
            # uncertainty, so that the truth lies inside the reported ellipsoid.
            d = np.concatenate([runner_up[1] - t, rotation_log(runner_up[0] @ R.T)])
            covariance = 2.0 * covariance + np.outer(d, d)
    return FusionResult(R=R, t=t, covariance=covariance, rms_px=rms, sigma_px=sigma,
                        used=active, rejected=rejected, ignored=ignored, views_used=views_used,
                        ambiguous=ambiguous, notes=notes), None


def _near(R_a, t_a, R_b, t_b, degrees=1.0, metres=0.002) -> bool:
    """Return whether two poses are the same for the purpose of starting a fit."""
    return bool(np.linalg.norm(t_a - t_b) < metres
                and np.linalg.norm(rotation_log(R_a @ R_b.T)) < np.radians(degrees))


def _planar_runner_up(problem, view: View, object_points, R, t, res, sigma_px, hypotheses,
                      config: FusionConfig):
    """
    Return (R, t) of the other branch of a one-face fit when the data cannot rule it out.

    None when the fit is unambiguous; the fit itself when the branches merged into one flat
    minimum (then only the factor 2 of the caller's inflation applies).

    A planar target seen by one camera leaves 2 residual degrees of freedom: the mirrored pose
    (the face normal reflected about the line of sight) fits nearly as well, and noise can make
    it the better fit. Candidates: the other PnP hypotheses and the explicit mirror of the fit,
    each refined (the mirror also unrefined, in case it slides back onto the fit). The branch is
    ambiguous when its cost exceeds the fit's by less than chi2(0.999, 6 dof) sigma^2 (the
    pose's 99.9 % confidence region), an absolute test: a ratio of two small costs says
    nothing. Of the branches the data cannot rule out, the farthest is returned.
    """
    cost = float(np.sum(res ** 2))
    sigma2 = max(sigma_px, config.sigma_floor_px) ** 2
    threshold = max(config.ambiguity_chi2 * sigma2,
                    (config.ambiguity_ratio - 1.0) * cost + len(res) * 0.05)
    centre = object_points.mean(axis=0)
    centre_w = R @ centre + t
    camera = -view.R_cw.T @ view.t_cw
    ray = (camera - centre_w) / (np.linalg.norm(camera - centre_w) + 1e-12)
    _, _, vt = np.linalg.svd(object_points - centre)
    normal = R @ vt[2]
    normal = normal if normal @ ray >= 0 else -normal
    axis = np.cross(normal, ray)
    starts = [(h.R, h.t, True) for h in hypotheses]
    if np.linalg.norm(axis) > 1e-9:
        angle = np.arccos(np.clip(normal @ ray, -1.0, 1.0))
        # Rotate about the face centre so the mirror keeps the face where the camera saw it.
        flip = rotation_exp(axis / np.linalg.norm(axis) * 2.0 * angle)
        R_flip = flip @ R
        t_flip = centre_w - R_flip @ centre
        starts += [(R_flip, t_flip, False), (R_flip, t_flip, True)]
    # Near head-on the cost is flat along the tilts (perspective is a weak cue on a small face)
    # and the linearised covariance understates how far the pose may lie: walk the tilts about
    # the face centre and keep the farthest that the data cannot rule out.
    tilt_u = np.cross(ray, [1.0, 0.0, 0.0] if abs(ray[0]) < 0.9 else [0.0, 1.0, 0.0])
    tilt_u /= np.linalg.norm(tilt_u)
    for tilt_axis in (tilt_u, np.cross(ray, tilt_u)):
        for degrees in config.ambiguity_tilts_deg:
            for sign in (1.0, -1.0):
                R_tilt = rotation_exp(sign * np.radians(degrees) * tilt_axis) @ R
                starts.append((R_tilt, centre_w - R_tilt @ centre, False))
    best, merged = None, False
    min_angle = np.radians(config.ambiguity_min_deg)
    for R0, t0, refined in starts:
        if refined:
            R_alt, t_alt, res_alt, _ = refine(problem, R0, t0, config)
        else:
            R_alt, t_alt = R0, t0
            res_alt, _ = problem.residuals(R_alt, t_alt)
        if np.linalg.norm(rotation_log(R_alt @ R.T)) <= min_angle:
            # A branch that started apart and slid onto the fit: one flat valley, not two
            # minima; the linearised covariance understates it (doubled by the caller).
            merged |= np.linalg.norm(rotation_log(R0 @ R.T)) > min_angle
            continue
        cost_alt = float(np.sum(res_alt ** 2))
        distance = float(np.linalg.norm(rotation_log(R_alt @ R.T)))
        if cost_alt - cost < threshold and (best is None or distance > best[0]):
            best = (distance, R_alt, t_alt)
    if best is None:
        return (R, t) if merged else None
    return best[1:]


def _covariance(problem, R, t, res, weights, config: FusionConfig):
    """
    Return (covariance, sigma_px) of the fitted pose.

    Two parts. The classic sigma^2 (J^T W J)^-1, with sigma^2 the residuals' variance plus the
    floor's square. And a cluster-robust (sandwich) term H^-1 (sum_v g_v g_v^T) H^-1 with g_v
    the gradient of camera v's residuals alone: at the optimum the gradients cancel, and they
    are large exactly when the cameras pull the pose in different directions, which residual
    noise alone cannot show (a camera with a calibration error shifts the pose coherently).
    """
    J = problem.jacobian(R, t)
    w2 = np.repeat(weights, 2)
    H = J.T @ (J * w2[:, None])
    dof = 2 * len(res) - 6
    measured = float(np.sum(weights * np.sum(res ** 2, axis=1))) / dof if dof > 0 else 0.0
    # In quadrature, not max(): any growth of the residuals (cameras that disagree) shows.
    sigma2 = measured + config.sigma_floor_px ** 2
    try:
        H_inv = np.linalg.inv(H)
    except np.linalg.LinAlgError:
        return np.diag([1.0] * 3 + [np.pi ** 2] * 3), float(np.sqrt(sigma2))
    weighted = (J * w2[:, None]) * res.reshape(-1, 1)
    views = np.repeat(problem.view_of_point, 2)
    scatter = np.zeros((6, 6))
    for view in np.unique(views):
        g = weighted[views == view].sum(axis=0)
        scatter += np.outer(g, g)
    cov = (sigma2 * H_inv + H_inv @ scatter @ H_inv) * config.covariance_scale ** 2
    cov = 0.5 * (cov + cov.T)
    cov += np.diag([config.position_sigma_floor ** 2] * 3 + [config.rotation_sigma_floor ** 2] * 3)
    return cov, float(np.sqrt(sigma2))
