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
Training the controllers that policy_runner deploys: environment, RL, export (not runtime).

Nothing on the robot imports this package; it needs the training extras (torch, rsl-rl-lib,
ray), which scripts/setup.sh installs into the project's venv from requirements-training.txt.
"""
