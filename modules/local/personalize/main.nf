process PERSONALIZE {
    tag "${batch_id}"
    label 'process_single'

    input:
    tuple val(batch_id), path(batch), path(vcf), path(vcf_index)   // the VCF of the batch's chromosome
    tuple path(fasta), path(fai)
    path samples

    output:
    tuple val(batch_id), path('haplotypes/*.haplotypes.npz'), emit: haplotypes
    path 'versions.yml',                                      emit: versions

    script:
    def args     = task.ext.args ?: ''   // the parameters passed as they are (conf/modules.config, generated from the registry)
    """
    seqgx personalize \\
        --batch ${batch} --fasta ${fasta} --vcf ${vcf} --samples ${samples} ${args} --threads ${task.cpus} \\
        --out haplotypes

    cat <<-END_VERSIONS > versions.yml
    "${task.process}":
        seqgx: \$(seqgx --version | sed 's/seqgx //')
    END_VERSIONS
    """

    stub:
    """
    mkdir -p haplotypes
    touch haplotypes/${batch_id}.stub.haplotypes.npz
    printf '"%s":\\n    seqgx: stub\\n' "${task.process}" > versions.yml
    """
}
