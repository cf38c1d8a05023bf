// SPDX-License-Identifier: MIT
/*
 * Example: a Vulkan runtime and a mirrored device sharing one address space.
 *
 * The process's own anonymous memory is imported into Vulkan with
 * VK_EXT_external_memory_host (on Mesa's lavapipe, a CPU implementation of
 * Vulkan whose shaders run on CPU threads), and the same memory is mirrored
 * by mnmirror device 0.  Nothing is copied between them: both use the
 * process's pages.
 *  1. the CPU writes, a shader transforms, the device READs the result;
 *  2. the device WRITEs, the next dispatch sees it;
 *  3. the buffer MIGRATEs to device memory, and a dispatch on several
 *     lavapipe threads faults the pages back (CPU faults, by the counters);
 *  4. after a migration, PREFETCH to system memory: the dispatch takes no
 *     CPU fault;
 *  5. the device takes EXCLUSIVE access, shader atomics revoke it, and the
 *     sum is right.
 * Exit status: 0 if every step checked out, 4 if there is no Vulkan device
 * with VK_EXT_external_memory_host (the reason is printed), 1 otherwise.
 */
#define _GNU_SOURCE
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <unistd.h>
#include <vulkan/vulkan.h>

#include <mnmirror.h>

#include "vk_shared_spv.h"	/* the SPIR-V of shaders/vk-shared.comp */

#define NWORDS		(1u << 20)	/* 4 MiB of 32-bit words */
#define EXIT_SKIP	4

struct vk {
	VkInstance inst;
	VkPhysicalDevice phys;
	VkDevice dev;
	VkQueue queue;
	VkBuffer buf;
	VkDeviceMemory mem;
	VkDescriptorSetLayout dsl;
	VkPipelineLayout layout;
	VkShaderModule shader;
	VkPipeline pipe;
	VkDescriptorPool pool;
	VkDescriptorSet set;
	VkCommandPool cpool;
	VkCommandBuffer cmd;
	VkFence fence;
	uint32_t qfamily;
};

struct push {
	uint32_t op, n, mul, add;
};

#define VK_CHECK(call) do {						\
	VkResult r_ = (call);						\
	if (r_ != VK_SUCCESS) {						\
		fprintf(stderr, "%s: VkResult %d\n", #call, r_);	\
		return -1;						\
	}								\
} while (0)

static int has_extension(VkPhysicalDevice p, const char *name)
{
	VkExtensionProperties *e;
	uint32_t n = 0, i;
	int found = 0;

	vkEnumerateDeviceExtensionProperties(p, NULL, &n, NULL);
	e = calloc(n, sizeof(*e));
	if (!e)
		return 0;
	vkEnumerateDeviceExtensionProperties(p, NULL, &n, e);
	for (i = 0; i < n; i++)
		found |= !strcmp(e[i].extensionName, name);
	free(e);
	return found;
}

/*
 * An instance and a device with VK_EXT_external_memory_host, a CPU one
 * (lavapipe) first: 1 if there is no such device (a skip), -1 on failure.
 */
static int vk_open(struct vk *v, VkDeviceSize *align)
{
	VkApplicationInfo app = {
		.sType = VK_STRUCTURE_TYPE_APPLICATION_INFO,
		.pApplicationName = "vk-shared", .apiVersion = VK_API_VERSION_1_1,
	};
	VkInstanceCreateInfo ici = {
		.sType = VK_STRUCTURE_TYPE_INSTANCE_CREATE_INFO,
		.pApplicationInfo = &app,
	};
	VkPhysicalDevice phys[8];
	uint32_t n = 8, i, nq = 0;
	float prio = 1.0f;

	if (vkCreateInstance(&ici, NULL, &v->inst) != VK_SUCCESS)
		return 1;	/* no loader or no driver */
	if (vkEnumeratePhysicalDevices(v->inst, &n, phys) < 0)
		return 1;
	for (i = 0; i < n; i++) {
		VkPhysicalDeviceProperties p;

		if (!has_extension(phys[i], VK_EXT_EXTERNAL_MEMORY_HOST_EXTENSION_NAME))
			continue;
		vkGetPhysicalDeviceProperties(phys[i], &p);
		if (!v->phys || p.deviceType == VK_PHYSICAL_DEVICE_TYPE_CPU)
			v->phys = phys[i];
	}
	if (!v->phys)
		return 1;
	{
		VkPhysicalDeviceExternalMemoryHostPropertiesEXT host = {
			.sType = VK_STRUCTURE_TYPE_PHYSICAL_DEVICE_EXTERNAL_MEMORY_HOST_PROPERTIES_EXT,
		};
		VkPhysicalDeviceProperties2 props = {
			.sType = VK_STRUCTURE_TYPE_PHYSICAL_DEVICE_PROPERTIES_2,
			.pNext = &host,
		};
		VkQueueFamilyProperties qf[8];

		vkGetPhysicalDeviceProperties2(v->phys, &props);
		*align = host.minImportedHostPointerAlignment;
		printf("Vulkan device: %s (import alignment %llu)\n",
		       props.properties.deviceName, (unsigned long long)*align);
		nq = 8;
		vkGetPhysicalDeviceQueueFamilyProperties(v->phys, &nq, qf);
		for (i = 0; i < nq; i++)
			if (qf[i].queueFlags & VK_QUEUE_COMPUTE_BIT)
				break;
		if (i == nq)
			return -1;
		v->qfamily = i;
	}
	{
		const char *ext[] = { VK_EXT_EXTERNAL_MEMORY_HOST_EXTENSION_NAME };
		VkDeviceQueueCreateInfo qci = {
			.sType = VK_STRUCTURE_TYPE_DEVICE_QUEUE_CREATE_INFO,
			.queueFamilyIndex = v->qfamily, .queueCount = 1,
			.pQueuePriorities = &prio,
		};
		VkDeviceCreateInfo dci = {
			.sType = VK_STRUCTURE_TYPE_DEVICE_CREATE_INFO,
			.queueCreateInfoCount = 1, .pQueueCreateInfos = &qci,
			.enabledExtensionCount = 1, .ppEnabledExtensionNames = ext,
		};

		if (vkCreateDevice(v->phys, &dci, NULL, &v->dev) != VK_SUCCESS)
			return -1;
		vkGetDeviceQueue(v->dev, v->qfamily, 0, &v->queue);
	}
	return 0;
}

/* Import [ptr, ptr + size) of this process as a storage buffer; build the pipeline. */
static int vk_setup(struct vk *v, void *ptr, VkDeviceSize size)
{
	PFN_vkGetMemoryHostPointerPropertiesEXT host_props =
		(PFN_vkGetMemoryHostPointerPropertiesEXT)
		vkGetDeviceProcAddr(v->dev, "vkGetMemoryHostPointerPropertiesEXT");
	VkMemoryHostPointerPropertiesEXT hp = {
		.sType = VK_STRUCTURE_TYPE_MEMORY_HOST_POINTER_PROPERTIES_EXT,
	};
	VkExternalMemoryBufferCreateInfo ext = {
		.sType = VK_STRUCTURE_TYPE_EXTERNAL_MEMORY_BUFFER_CREATE_INFO,
		.handleTypes = VK_EXTERNAL_MEMORY_HANDLE_TYPE_HOST_ALLOCATION_BIT_EXT,
	};
	VkBufferCreateInfo bci = {
		.sType = VK_STRUCTURE_TYPE_BUFFER_CREATE_INFO, .pNext = &ext,
		.size = size, .usage = VK_BUFFER_USAGE_STORAGE_BUFFER_BIT,
		.sharingMode = VK_SHARING_MODE_EXCLUSIVE,
	};
	VkImportMemoryHostPointerInfoEXT imp = {
		.sType = VK_STRUCTURE_TYPE_IMPORT_MEMORY_HOST_POINTER_INFO_EXT,
		.handleType = VK_EXTERNAL_MEMORY_HANDLE_TYPE_HOST_ALLOCATION_BIT_EXT,
		.pHostPointer = ptr,
	};
	VkMemoryAllocateInfo mai = {
		.sType = VK_STRUCTURE_TYPE_MEMORY_ALLOCATE_INFO, .pNext = &imp,
		.allocationSize = size,
	};
	VkDescriptorSetLayoutBinding b = {
		.binding = 0, .descriptorType = VK_DESCRIPTOR_TYPE_STORAGE_BUFFER,
		.descriptorCount = 1, .stageFlags = VK_SHADER_STAGE_COMPUTE_BIT,
	};
	VkDescriptorSetLayoutCreateInfo dslci = {
		.sType = VK_STRUCTURE_TYPE_DESCRIPTOR_SET_LAYOUT_CREATE_INFO,
		.bindingCount = 1, .pBindings = &b,
	};
	VkPushConstantRange pcr = {
		.stageFlags = VK_SHADER_STAGE_COMPUTE_BIT, .size = sizeof(struct push),
	};
	VkPipelineLayoutCreateInfo plci = {
		.sType = VK_STRUCTURE_TYPE_PIPELINE_LAYOUT_CREATE_INFO,
		.setLayoutCount = 1, .pSetLayouts = &v->dsl,
		.pushConstantRangeCount = 1, .pPushConstantRanges = &pcr,
	};
	VkShaderModuleCreateInfo smci = {
		.sType = VK_STRUCTURE_TYPE_SHADER_MODULE_CREATE_INFO,
		.codeSize = sizeof(vk_shared_spv), .pCode = vk_shared_spv,
	};
	VkDescriptorPoolSize ps = {
		.type = VK_DESCRIPTOR_TYPE_STORAGE_BUFFER, .descriptorCount = 1,
	};
	VkDescriptorPoolCreateInfo dpci = {
		.sType = VK_STRUCTURE_TYPE_DESCRIPTOR_POOL_CREATE_INFO,
		.maxSets = 1, .poolSizeCount = 1, .pPoolSizes = &ps,
	};
	VkCommandPoolCreateInfo cpci = {
		.sType = VK_STRUCTURE_TYPE_COMMAND_POOL_CREATE_INFO,
		.flags = VK_COMMAND_POOL_CREATE_RESET_COMMAND_BUFFER_BIT,
		.queueFamilyIndex = v->qfamily,
	};
	VkFenceCreateInfo fci = { .sType = VK_STRUCTURE_TYPE_FENCE_CREATE_INFO };
	const VkMemoryPropertyFlags coherent = VK_MEMORY_PROPERTY_HOST_VISIBLE_BIT |
					       VK_MEMORY_PROPERTY_HOST_COHERENT_BIT;
	VkPhysicalDeviceMemoryProperties mp;
	VkMemoryRequirements req;
	uint32_t type;

	if (!host_props)
		return -1;
	VK_CHECK(host_props(v->dev, VK_EXTERNAL_MEMORY_HANDLE_TYPE_HOST_ALLOCATION_BIT_EXT,
			    ptr, &hp));
	VK_CHECK(vkCreateBuffer(v->dev, &bci, NULL, &v->buf));
	vkGetBufferMemoryRequirements(v->dev, v->buf, &req);
	if (req.size > size)
		return -1;
	/* Host-coherent: the CPU and the mock device see the shader's stores. */
	vkGetPhysicalDeviceMemoryProperties(v->phys, &mp);
	for (type = 0; type < mp.memoryTypeCount; type++)
		if (((hp.memoryTypeBits & req.memoryTypeBits) & (1u << type)) &&
		    (mp.memoryTypes[type].propertyFlags & coherent) == coherent)
			break;
	if (type == mp.memoryTypeCount)
		return -1;
	mai.memoryTypeIndex = type;
	VK_CHECK(vkAllocateMemory(v->dev, &mai, NULL, &v->mem));
	VK_CHECK(vkBindBufferMemory(v->dev, v->buf, v->mem, 0));

	VK_CHECK(vkCreateDescriptorSetLayout(v->dev, &dslci, NULL, &v->dsl));
	VK_CHECK(vkCreatePipelineLayout(v->dev, &plci, NULL, &v->layout));
	VK_CHECK(vkCreateShaderModule(v->dev, &smci, NULL, &v->shader));
	{
		VkComputePipelineCreateInfo cci = {
			.sType = VK_STRUCTURE_TYPE_COMPUTE_PIPELINE_CREATE_INFO,
			.stage = {
				.sType = VK_STRUCTURE_TYPE_PIPELINE_SHADER_STAGE_CREATE_INFO,
				.stage = VK_SHADER_STAGE_COMPUTE_BIT,
				.module = v->shader, .pName = "main",
			},
			.layout = v->layout,
		};

		VK_CHECK(vkCreateComputePipelines(v->dev, VK_NULL_HANDLE, 1, &cci,
						  NULL, &v->pipe));
	}
	VK_CHECK(vkCreateDescriptorPool(v->dev, &dpci, NULL, &v->pool));
	{
		VkDescriptorSetAllocateInfo dsai = {
			.sType = VK_STRUCTURE_TYPE_DESCRIPTOR_SET_ALLOCATE_INFO,
			.descriptorPool = v->pool, .descriptorSetCount = 1,
			.pSetLayouts = &v->dsl,
		};
		VkDescriptorBufferInfo dbi = { .buffer = v->buf, .range = size };
		VkWriteDescriptorSet w = {
			.sType = VK_STRUCTURE_TYPE_WRITE_DESCRIPTOR_SET,
			.dstBinding = 0, .descriptorCount = 1,
			.descriptorType = VK_DESCRIPTOR_TYPE_STORAGE_BUFFER,
			.pBufferInfo = &dbi,
		};

		VK_CHECK(vkAllocateDescriptorSets(v->dev, &dsai, &v->set));
		w.dstSet = v->set;
		vkUpdateDescriptorSets(v->dev, 1, &w, 0, NULL);
	}
	VK_CHECK(vkCreateCommandPool(v->dev, &cpci, NULL, &v->cpool));
	{
		VkCommandBufferAllocateInfo cbai = {
			.sType = VK_STRUCTURE_TYPE_COMMAND_BUFFER_ALLOCATE_INFO,
			.commandPool = v->cpool,
			.level = VK_COMMAND_BUFFER_LEVEL_PRIMARY,
			.commandBufferCount = 1,
		};

		VK_CHECK(vkAllocateCommandBuffers(v->dev, &cbai, &v->cmd));
	}
	VK_CHECK(vkCreateFence(v->dev, &fci, NULL, &v->fence));
	return 0;
}

/* Everything vk_open() and vk_setup() made, in reverse order (NULL is fine). */
static void vk_close(struct vk *v)
{
	if (v->dev) {
		vkDeviceWaitIdle(v->dev);
		vkDestroyFence(v->dev, v->fence, NULL);
		vkDestroyCommandPool(v->dev, v->cpool, NULL);
		vkDestroyDescriptorPool(v->dev, v->pool, NULL);
		vkDestroyPipeline(v->dev, v->pipe, NULL);
		vkDestroyShaderModule(v->dev, v->shader, NULL);
		vkDestroyPipelineLayout(v->dev, v->layout, NULL);
		vkDestroyDescriptorSetLayout(v->dev, v->dsl, NULL);
		vkDestroyBuffer(v->dev, v->buf, NULL);
		/* Before the host memory it imported goes away. */
		vkFreeMemory(v->dev, v->mem, NULL);
		vkDestroyDevice(v->dev, NULL);
	}
	if (v->inst)
		vkDestroyInstance(v->inst, NULL);
}

/* One dispatch over n invocations, waited for. */
static int vk_dispatch(struct vk *v, uint32_t op, uint32_t n, uint32_t mul,
		       uint32_t add)
{
	struct push pc = { op, n, mul, add };
	VkCommandBufferBeginInfo begin = {
		.sType = VK_STRUCTURE_TYPE_COMMAND_BUFFER_BEGIN_INFO,
		.flags = VK_COMMAND_BUFFER_USAGE_ONE_TIME_SUBMIT_BIT,
	};
	VkMemoryBarrier host_visible = {
		.sType = VK_STRUCTURE_TYPE_MEMORY_BARRIER,
		.srcAccessMask = VK_ACCESS_SHADER_WRITE_BIT,
		.dstAccessMask = VK_ACCESS_HOST_READ_BIT,
	};
	VkSubmitInfo si = {
		.sType = VK_STRUCTURE_TYPE_SUBMIT_INFO,
		.commandBufferCount = 1, .pCommandBuffers = &v->cmd,
	};

	VK_CHECK(vkResetCommandBuffer(v->cmd, 0));
	VK_CHECK(vkBeginCommandBuffer(v->cmd, &begin));
	vkCmdBindPipeline(v->cmd, VK_PIPELINE_BIND_POINT_COMPUTE, v->pipe);
	vkCmdBindDescriptorSets(v->cmd, VK_PIPELINE_BIND_POINT_COMPUTE, v->layout,
				0, 1, &v->set, 0, NULL);
	vkCmdPushConstants(v->cmd, v->layout, VK_SHADER_STAGE_COMPUTE_BIT, 0,
			   sizeof(pc), &pc);
	vkCmdDispatch(v->cmd, (n + 63) / 64, 1, 1);
	vkCmdPipelineBarrier(v->cmd, VK_PIPELINE_STAGE_COMPUTE_SHADER_BIT,
			     VK_PIPELINE_STAGE_HOST_BIT, 0, 1, &host_visible,
			     0, NULL, 0, NULL);
	VK_CHECK(vkEndCommandBuffer(v->cmd));
	VK_CHECK(vkResetFences(v->dev, 1, &v->fence));
	VK_CHECK(vkQueueSubmit(v->queue, 1, &si, v->fence));
	VK_CHECK(vkWaitForFences(v->dev, 1, &v->fence, VK_TRUE, UINT64_MAX));
	return 0;
}

/* The first index whose word is not mul * i + add, or -1. */
static long first_wrong(const uint32_t *w, uint32_t mul, uint32_t add)
{
	uint32_t i;

	for (i = 0; i < NWORDS; i++)
		if (w[i] != mul * i + add)
			return i;
	return -1;
}

static uint64_t cpu_faults(struct mnm_device *dev)
{
	struct mnm_counters c = MNM_COUNTERS_INIT;

	return mnm_stats(dev, NULL, &c) ? 0 : c.cpu_faults;
}

#define STEP(ok, ...) do {						\
	printf("%s ", (ok) ? "ok:  " : "FAIL:");			\
	printf(__VA_ARGS__);						\
	printf("\n");							\
	failed |= !(ok);						\
} while (0)

int main(void)
{
	long ps = sysconf(_SC_PAGESIZE);
	size_t size = (size_t)NWORDS * 4, npages = size / ps;
	struct mnm_prefetch_result pr;
	struct mnm_migrate_result mr;
	struct mnm_device *mdev;
	struct vk v = { 0 };
	VkDeviceSize align = 0;
	uint64_t before, excl = 0;
	uint32_t *w, *buf, i;
	int ret, failed = 0;

	/* Several shader threads, so that they fault pages back at once. */
	setenv("LP_NUM_THREADS", "4", 0);
	ret = vk_open(&v, &align);
	if (ret > 0) {
		vk_close(&v);
		printf("skip: no Vulkan device with %s (install mesa-vulkan-drivers)\n",
		       VK_EXT_EXTERNAL_MEMORY_HOST_EXTENSION_NAME);
		return EXIT_SKIP;
	}
	if (ret < 0) {
		fprintf(stderr, "setup: the Vulkan device failed\n");
		vk_close(&v);
		return 1;
	}
	ret = mnm_open_index(0, &mdev);
	if (ret) {
		fprintf(stderr, "mnmirror: %s\n", mnm_strerror(ret));
		vk_close(&v);
		return 1;
	}
	/*
	 * Anonymous memory of our own, aligned as the Vulkan device asks
	 * (mmap aligns to the page; a larger alignment would need more).
	 */
	w = mmap(NULL, size, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
	buf = malloc(size);
	if (align > (VkDeviceSize)ps || size % align || w == MAP_FAILED || !buf ||
	    vk_setup(&v, w, size)) {
		fprintf(stderr, "setup: cannot import %zu bytes (alignment %llu)\n",
			size, (unsigned long long)align);
		vk_close(&v);
		return 1;
	}

	/* 1. CPU writes, the shader transforms, the device reads. */
	for (i = 0; i < NWORDS; i++)
		w[i] = i;
	ret = vk_dispatch(&v, 0, NWORDS, 2, 1);
	ret = ret ?: mnm_read(mdev, w, buf, npages, NULL);
	STEP(!ret && first_wrong(buf, 2, 1) < 0,
	     "the device READs what the shader wrote (2i + 1)");

	/* 2. The device writes, the next dispatch sees it. */
	for (i = 0; i < NWORDS; i++)
		buf[i] = 3 * i;
	ret = mnm_write(mdev, w, buf, npages, NULL);
	ret = ret ?: vk_dispatch(&v, 0, NWORDS, 2, 0);
	STEP(!ret && first_wrong(w, 6, 0) < 0,
	     "the shader sees what the device WROTE (3i, doubled)");

	if (mnm_has_cap(mdev, MNM_CAP_MIGRATE)) {
		/* 3. In device memory: the shader threads fault it back. */
		ret = mnm_migrate(mdev, w, npages, MNM_TO_DEVICE, &mr);
		before = cpu_faults(mdev);
		ret = ret ?: vk_dispatch(&v, 0, NWORDS, 2, 0);
		STEP(!ret && mr.migrated == npages && first_wrong(w, 12, 0) < 0 &&
		     cpu_faults(mdev) - before >= npages,
		     "after MIGRATE of %zu pages, the dispatch faulted %llu back (data intact)",
		     npages, (unsigned long long)(cpu_faults(mdev) - before));

		/* 4. Prefetched back before the dispatch: no CPU fault. */
		ret = mnm_migrate(mdev, w, npages, MNM_TO_DEVICE, &mr);
		ret = ret ?: mnm_prefetch(mdev, w, npages, MNM_TO_SYSTEM, 0, &pr);
		before = cpu_faults(mdev);
		ret = ret ?: vk_dispatch(&v, 0, NWORDS, 1, 1);
		STEP(!ret && pr.migrate.migrated == npages && pr.mapped == npages &&
		     cpu_faults(mdev) == before && first_wrong(w, 12, 1) < 0,
		     "PREFETCH to system memory first: %llu pages back, 0 CPU faults in the dispatch",
		     (unsigned long long)pr.migrate.migrated);
	} else {
		printf("skip: steps 3-4, this kernel has no device memory\n");
	}

	if (mnm_has_cap(mdev, MNM_CAP_EXCLUSIVE)) {
		/* 5. Exclusive access, then shader atomics on the same page. */
		uint32_t start = w[0];

		ret = mnm_exclusive(mdev, w, 1);
		ret = ret ?: mnm_check_exclusive(mdev, w, 1, &excl);
		STEP(!ret && excl == 1, "the device holds page 0 exclusively");
		ret = vk_dispatch(&v, 1, 4096, 0, 0);
		ret = ret ?: mnm_check_exclusive(mdev, w, 1, &excl);
		STEP(!ret && excl == 0 && w[0] == start + 4096,
		     "4096 shader atomics: sum %u (want %u), the grant was revoked",
		     w[0] - start, 4096);
	} else {
		printf("skip: step 5, this kernel has no exclusive access\n");
	}
	vk_close(&v);
	munmap(w, size);
	free(buf);
	mnm_close(mdev);
	return failed ? 1 : 0;
}
