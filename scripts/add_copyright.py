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

"""Prepend the project's Apache-2.0 header to Python files that lack it (idempotent)."""
import pathlib
import sys

HEADER = (pathlib.Path(__file__).parent / 'copyright_header.txt').read_text()

for name in sys.argv[1:]:
    path = pathlib.Path(name)
    text = path.read_text()
    if text.startswith('# Copyright'):
        continue
    shebang = ''
    if text.startswith('#!'):
        shebang, text = text.split('\n', 1)
        shebang += '\n'
    path.write_text(shebang + HEADER + '\n' + text)
