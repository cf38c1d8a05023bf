// SPDX-License-Identifier: MIT
// The compute shader of vk-shared.c: op 0 rewrites every word
// (data[i] = data[i] * mul + add); op 1 adds 1 to data[0] once per
// invocation, with an atomic.
#version 450
layout(local_size_x = 64) in;
layout(std430, binding = 0) buffer Buf { uint data[]; };
layout(push_constant) uniform Push { uint op; uint n; uint mul; uint add; } pc;

void main()
{
	uint i = gl_GlobalInvocationID.x;

	if (i >= pc.n)
		return;
	if (pc.op == 0u)
		data[i] = data[i] * pc.mul + pc.add;
	else
		atomicAdd(data[0], 1u);
}
