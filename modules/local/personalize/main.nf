process PERSONALIZE {
    tag "${batch.baseName}"
    label 'process_single'

    input:
    path batch
    tuple path(fasta), path(fai)
    tuple path(vcf), path(vcf_index)
    path samples

    output:
    tuple val(batch.baseName), path('haplotypes/*.haplotypes.npz'), emit: haplotypes
    path 'versions.yml',                                            emit: versions

    script:
    """
    seqgx personalize \\
        --batch ${batch} --fasta ${fasta} --vcf ${vcf} --samples ${samples} \\
        --ref-mismatch ${params.ref_mismatch} --unphased ${params.unphased} \\
        --missing ${params.missing} --phase-seed ${params.phase_seed} --out haplotypes

    cat <<-END_VERSIONS > versions.yml
    "${task.process}":
        seqgx: \$(seqgx --version | sed 's/seqgx //')
    END_VERSIONS
    """

    stub:
    """
    mkdir -p haplotypes
    touch haplotypes/stub.haplotypes.npz
    printf '"%s":\\n    seqgx: stub\\n' "${task.process}" > versions.yml
    """
}
